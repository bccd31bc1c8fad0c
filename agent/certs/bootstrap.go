package certs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"
)

const (
	// pairPrefix names the FileStore's files: kubelet-client-<time>.pem and kubelet-client-current.pem.
	pairPrefix = "kubelet-client"
	// tmpKeyFile keeps the bootstrap key across restarts until its CSR is issued, as the kubelet does.
	tmpKeyFile = "kubelet-client.key.tmp"
	// certWaitTimeout bounds one wait for a CSR to be issued (the kubelet's); then the CSR is asked again.
	certWaitTimeout = time.Hour
	// maxKeyBytes bounds what is read from the temporary key file.
	maxKeyBytes = 64 << 10
	// nodesGroup is the organization of every node client certificate.
	nodesGroup = "system:nodes"
)

// CSRError reports a certificate signing request that the cluster denied or failed to sign.
type CSRError struct {
	Name    string // the CSR
	Type    certificatesv1.RequestConditionType
	Reason  string
	Message string
}

func (e *CSRError) Error() string {
	return fmt.Sprintf("certificate signing request %s: %s (reason %q, message %q): delete it (kubectl delete csr %s) so that a new one is made, or approve one by hand",
		e.Name, e.Type, bound(e.Reason), bound(e.Message), e.Name)
}

// nodeUser is the user name a node's credentials must authenticate as.
func nodeUser(node string) string {
	return "system:node:" + node
}

// bootstrapIfNeeded runs the TLS bootstrap when the bootstrap kubeconfig exists and the kubeconfig
// cannot serve as credentials; otherwise it leaves both alone, as the kubelet does.
func bootstrapIfNeeded(ctx context.Context, cfg Config, newClient newClientFunc) error {
	if cfg.BootstrapKubeconfig == "" || !exists(cfg.BootstrapKubeconfig) {
		return nil
	}
	problem := clientCertProblem(cfg.Kubeconfig, cfg.Clock.Now())
	if problem == "" {
		return nil
	}
	cfg.Log.Info("requesting a client certificate with the bootstrap kubeconfig", "file", cfg.Kubeconfig,
		"bootstrap", cfg.BootstrapKubeconfig, "reason", problem)
	return bootstrap(ctx, cfg, newClient)
}

// bootstrap obtains a client certificate through a CSR authenticated by the bootstrap kubeconfig,
// stores it in the cert dir and writes the kubeconfig pointing at it.
func bootstrap(ctx context.Context, cfg Config, newClient newClientFunc) error {
	boot, err := loadRESTConfig(cfg.BootstrapKubeconfig)
	if err != nil {
		return fmt.Errorf("bootstrap kubeconfig %s: %w", cfg.BootstrapKubeconfig, err)
	}
	bootForClient := rest.CopyConfig(boot)
	bootForClient.UserAgent = userAgent(cfg.NodeName)
	client, err := newClient(bootForClient)
	if err != nil {
		return fmt.Errorf("bootstrap kubeconfig %s: %w", cfg.BootstrapKubeconfig, err)
	}
	store, err := newStore(ctx, cfg.CertDir)
	if err != nil {
		return err
	}
	keyPEM, err := bootstrapKey(cfg.CertDir, store)
	if err != nil {
		return err
	}
	certPEM, err := requestCertificate(ctx, cfg, client, keyPEM)
	if err != nil {
		return withCredentialsHint(err, cfg.BootstrapKubeconfig, cfg.NodeName)
	}
	if _, err := store.Update(certPEM, keyPEM); err != nil {
		return fmt.Errorf("cert dir %s: store the issued certificate: %w", cfg.CertDir, err)
	}
	if err := os.Remove(filepath.Join(cfg.CertDir, tmpKeyFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		cfg.Log.Warn("could not remove the temporary key", "file", filepath.Join(cfg.CertDir, tmpKeyFile), "err", err)
	}
	if err := writeKubeconfig(cfg.Kubeconfig, nodeKubeconfig(boot, store.CurrentPath())); err != nil {
		return err
	}
	cfg.Log.Info("wrote the node kubeconfig", "file", cfg.Kubeconfig, "cert", store.CurrentPath())
	return nil
}

// newStore checks the links the FileStore keeps in certDir and opens it,
// making certDir first: only a bootstrap or rotation needs it, so a node
// that does neither leaves no directory behind.
func newStore(ctx context.Context, certDir string) (certificate.FileStore, error) {
	if err := ensureCertDir(certDir); err != nil {
		return nil, err
	}
	if err := checkStoreLinks(certDir); err != nil {
		return nil, err
	}
	s, err := certificate.NewFileStoreWithLogger(logr.FromContextOrDiscard(ctx), pairPrefix, certDir, certDir, "", "")
	if err != nil {
		return nil, fmt.Errorf("cert dir %s: %w", certDir, err)
	}
	return s, nil
}

// ensureCertDir creates certDir as the kubelet does (0755; the files in it are 0600) and refuses a
// link or a non-directory there.
func ensureCertDir(certDir string) error {
	fi, err := os.Lstat(certDir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(certDir, 0o755); err != nil {
			return fmt.Errorf("cert dir %s: %w", certDir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("cert dir %s: %w", certDir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("cert dir %s: is a %s, not a directory", certDir, fi.Mode().Type())
	}
	return nil
}

// checkStoreLinks refuses kubelet-client-current.pem and kubelet-client-updated.pem unless each is
// absent or a link, as the FileStore writes them, to a regular file in certDir itself.
func checkStoreLinks(certDir string) error {
	abs, err := filepath.Abs(certDir)
	if err != nil {
		return fmt.Errorf("cert dir %s: %w", certDir, err)
	}
	for _, q := range []string{"current", "updated"} {
		if err := checkStoreLink(abs, filepath.Join(abs, pairPrefix+"-"+q+".pem")); err != nil {
			return err
		}
	}
	return nil
}

func checkStoreLink(dir, link string) error {
	fi, err := os.Lstat(link)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", link, err)
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("%s: is a %s, not the link the certificate store writes", link, typeName(fi.Mode()))
	}
	target, err := os.Readlink(link)
	if err != nil {
		return fmt.Errorf("%s: %w", link, err)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(dir, target)
	}
	if filepath.Dir(filepath.Clean(target)) != dir {
		return fmt.Errorf("%s: points at %q, outside the cert dir %s", link, target, dir)
	}
	tfi, err := os.Lstat(target)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a dangling link: the store replaces it with the next certificate
	}
	if err != nil {
		return fmt.Errorf("%s: %w", link, err)
	}
	if !tfi.Mode().IsRegular() {
		return fmt.Errorf("%s: points at %s, a %s, not a regular file", link, target, typeName(tfi.Mode()))
	}
	return nil
}

func typeName(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "directory"
	case m.IsRegular():
		return "regular file"
	default:
		return m.Type().String()
	}
}

// bootstrapKey returns the key of the store's current pair if it has one, else the temporary key in
// certDir, made (ECDSA P-256, 0600) when missing or unreadable, so that a restart reuses the key of a
// CSR already made.
func bootstrapKey(certDir string, store certificate.Store) ([]byte, error) {
	if cur, err := store.Current(); err == nil && cur.PrivateKey != nil {
		if data, err := keyutil.MarshalPrivateKeyToPEM(cur.PrivateKey); err == nil {
			return data, nil
		}
	}
	path := filepath.Join(certDir, tmpKeyFile)
	data, err := readNoFollow(path, maxKeyBytes)
	if err == nil {
		if _, perr := keyutil.ParsePrivateKeyPEM(data); perr == nil {
			return data, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key %s: %w", path, err)
	}
	data, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, fmt.Errorf("generate key %s: %w", path, err)
	}
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return nil, err
	}
	return data, nil
}

// readNoFollow reads at most limit bytes of the regular file at path, refusing a link there.
func readNoFollow(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: is a %s, not a regular file", path, typeName(fi.Mode()))
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("read %s: %d bytes, more than %d", path, fi.Size(), limit)
	}
	return io.ReadAll(io.LimitReader(f, limit))
}

// requestCertificate asks the cluster to sign a node client certificate for keyPEM and waits until it
// is issued, asking again after each wait that times out; it returns a *CSRError when the CSR is
// denied or fails.
func requestCertificate(ctx context.Context, cfg Config, client kubernetes.Interface, keyPEM []byte) ([]byte, error) {
	key, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("bootstrap key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("bootstrap key: %T cannot sign", key)
	}
	subject := pkix.Name{CommonName: nodeUser(cfg.NodeName), Organization: []string{nodesGroup}}
	csrPEM, err := certutil.MakeCSR(key, &subject, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("make certificate signing request: %w", err)
	}
	usages := certificate.DefaultKubeletClientGetUsages(key)
	name, err := csrName(signer.Public(), subject, usages)
	if err != nil {
		return nil, err
	}
	var last string
	for {
		cert, err := requestOnce(ctx, cfg, client, csrPEM, name, usages, key)
		if err == nil || !transient(err) || ctx.Err() != nil {
			return cert, err
		}
		if msg := err.Error(); msg != last {
			cfg.Log.Warn("waiting for the client certificate; asking again", "node", cfg.NodeName, "csr", name, "err", err)
			last = msg
		}
		if err := sleep(ctx, cfg, time.Second); err != nil {
			return nil, err
		}
	}
}

// requestOnce creates (or finds) the CSR name and waits up to certWaitTimeout for its certificate.
func requestOnce(ctx context.Context, cfg Config, client kubernetes.Interface, csrPEM []byte, name string, usages []certificatesv1.KeyUsage, key any) ([]byte, error) {
	var reqName string
	var reqUID types.UID
	err := retry(ctx, cfg, "create certificate signing request "+name, func(ctx context.Context) error {
		var err error
		reqName, reqUID, err = csr.RequestCertificateWithContext(ctx, client, csrPEM, name,
			certificatesv1.KubeAPIServerClientKubeletSignerName, nil, usages, key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("certificate signing request %s: %w", name, err)
	}
	cfg.Log.Info("waiting for the certificate signing request to be approved and issued", "node", cfg.NodeName, "csr", reqName)
	waitCtx, cancel := context.WithTimeout(ctx, certWaitTimeout)
	defer cancel()
	cert, err := csr.WaitForCertificate(waitCtx, client, reqName, reqUID)
	if err == nil {
		return cert, nil
	}
	if verdict := csrVerdict(ctx, client, reqName); verdict != nil {
		return nil, verdict
	}
	return nil, &transientError{fmt.Errorf("certificate signing request %s: %w", reqName, err)}
}

// csrVerdict returns a *CSRError when the CSR name is denied or failed, else nil.
func csrVerdict(ctx context.Context, client kubernetes.Interface, name string) error {
	got, err := client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	for _, c := range got.Status.Conditions {
		if c.Type == certificatesv1.CertificateDenied || c.Type == certificatesv1.CertificateFailed {
			return &CSRError{Name: name, Type: c.Type, Reason: c.Reason, Message: c.Message}
		}
	}
	return nil
}

// csrName is a name that depends only on the public key, subject and usages, so that asking again
// with the same key finds the CSR already made instead of making another.
func csrName(pub crypto.PublicKey, subject pkix.Name, usages []certificatesv1.KeyUsage) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("certificate signing request name: %w", err)
	}
	h := sha256.New()
	part := func(b []byte) {
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	part(der)
	part([]byte(subject.CommonName))
	for _, o := range subject.Organization {
		part([]byte(o))
	}
	for _, u := range usages {
		part([]byte(u))
	}
	return "node-csr-" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)), nil
}
