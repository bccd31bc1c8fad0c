package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	stdsync "sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

const testNode = "node-a"

// testCA signs client certificates in tests.
type testCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	pem    []byte
	serial int64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key := mustKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial: 1}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// sign issues a client certificate for pub valid from notBefore to notAfter.
func (ca *testCA) sign(t *testing.T, subject pkix.Name, pub crypto.PublicKey, notBefore, notAfter time.Time) []byte {
	t.Helper()
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      subject,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// nodeCert returns a certificate and key PEM for user, valid from notBefore to notAfter.
func (ca *testCA) nodeCert(t *testing.T, user string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key := mustKey(t)
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return ca.sign(t, pkix.Name{CommonName: user, Organization: []string{nodesGroup}}, &key.PublicKey, notBefore, notAfter), keyPEM
}

// fakeAPI is a fake clientset whose CSR API signs with a test CA, and whose SelfSubjectReview answers
// with a configurable user.
type fakeAPI struct {
	t      *testing.T
	ca     *testCA
	client *fake.Clientset

	mu        stdsync.Mutex
	csrs      map[string]*certificatesv1.CertificateSigningRequest
	order     []string
	watchers  []*watch.FakeWatcher
	hold      bool          // while set, new CSRs wait for approve
	lifetime  time.Duration // of issued certificates; the first one may differ
	firstLife time.Duration
	user      authenticationv1.UserInfo
	reviewErr error
	reviews   int
	configs   []*rest.Config
}

func newFakeAPI(t *testing.T, ca *testCA) *fakeAPI {
	f := &fakeAPI{
		t: t, ca: ca, client: fake.NewClientset(),
		csrs:     map[string]*certificatesv1.CertificateSigningRequest{},
		lifetime: 24 * time.Hour,
		user:     authenticationv1.UserInfo{Username: nodeUser(testNode), Groups: []string{nodesGroup, "system:authenticated"}},
	}
	f.client.PrependReactor("create", "certificatesigningrequests", f.createCSR)
	f.client.PrependReactor("get", "certificatesigningrequests", f.getCSR)
	f.client.PrependReactor("list", "certificatesigningrequests", f.listCSR)
	f.client.PrependWatchReactor("certificatesigningrequests", f.watchCSR)
	f.client.PrependReactor("create", "selfsubjectreviews", f.review)
	return f
}

func (f *fakeAPI) newClient(c *rest.Config) (kubernetes.Interface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.configs = append(f.configs, rest.CopyConfig(c))
	return f.client, nil
}

func (f *fakeAPI) createCSR(a k8stesting.Action) (bool, runtime.Object, error) {
	req := a.(k8stesting.CreateAction).GetObject().(*certificatesv1.CertificateSigningRequest).DeepCopy()
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Name == "" {
		req.Name = fmt.Sprintf("%s%d", req.GenerateName, len(f.order))
	}
	if _, ok := f.csrs[req.Name]; ok {
		return true, nil, apierrors.NewAlreadyExists(certificatesv1.Resource("certificatesigningrequests"), req.Name)
	}
	req.UID = types.UID(fmt.Sprintf("uid-%d", len(f.order)))
	req.ResourceVersion = "1"
	f.csrs[req.Name] = req
	f.order = append(f.order, req.Name)
	if !f.hold {
		f.issueLocked(req)
	}
	return true, req.DeepCopy(), nil
}

// issueLocked approves req and puts a certificate for its key in its status.
func (f *fakeAPI) issueLocked(req *certificatesv1.CertificateSigningRequest) {
	block, _ := pem.Decode(req.Spec.Request)
	parsed, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		f.t.Errorf("CSR %s: %v", req.Name, err)
		return
	}
	life := f.lifetime
	if len(f.order) == 1 && f.firstLife != 0 {
		life = f.firstLife
	}
	now := time.Now()
	req.Status.Conditions = append(req.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: "True", Reason: "AutoApproved",
	})
	req.Status.Certificate = f.ca.sign(f.t, parsed.Subject, parsed.PublicKey, now.Add(-time.Hour), now.Add(life))
	req.ResourceVersion = "2"
}

// approve issues every CSR that waits and tells the open watches.
func (f *fakeAPI) approve() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold = false
	for _, name := range f.order {
		req := f.csrs[name]
		if len(req.Status.Certificate) > 0 {
			continue
		}
		f.issueLocked(req)
		for _, w := range f.watchers {
			if !w.IsStopped() {
				w.Modify(req.DeepCopy())
			}
		}
	}
}

func (f *fakeAPI) getCSR(a k8stesting.Action) (bool, runtime.Object, error) {
	name := a.(k8stesting.GetAction).GetName()
	f.mu.Lock()
	defer f.mu.Unlock()
	req, ok := f.csrs[name]
	if !ok {
		return true, nil, apierrors.NewNotFound(certificatesv1.Resource("certificatesigningrequests"), name)
	}
	return true, req.DeepCopy(), nil
}

func (f *fakeAPI) listCSR(a k8stesting.Action) (bool, runtime.Object, error) {
	name, _ := a.(k8stesting.ListAction).GetListRestrictions().Fields.RequiresExactMatch("metadata.name")
	f.mu.Lock()
	defer f.mu.Unlock()
	list := &certificatesv1.CertificateSigningRequestList{ListMeta: metav1.ListMeta{ResourceVersion: "2"}}
	for _, n := range f.order {
		if name == "" || n == name {
			list.Items = append(list.Items, *f.csrs[n].DeepCopy())
		}
	}
	return true, list, nil
}

func (f *fakeAPI) watchCSR(k8stesting.Action) (bool, watch.Interface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := watch.NewFakeWithChanSize(10, false)
	f.watchers = append(f.watchers, w)
	return true, w, nil
}

func (f *fakeAPI) review(k8stesting.Action) (bool, runtime.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reviews++
	if f.reviewErr != nil {
		return true, nil, f.reviewErr
	}
	return true, &authenticationv1.SelfSubjectReview{Status: authenticationv1.SelfSubjectReviewStatus{UserInfo: f.user}}, nil
}

// createdCSRs returns the CSRs made so far, oldest first.
func (f *fakeAPI) createdCSRs() []*certificatesv1.CertificateSigningRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*certificatesv1.CertificateSigningRequest
	for _, n := range f.order {
		out = append(out, f.csrs[n].DeepCopy())
	}
	return out
}

// writeBootstrapKubeconfig writes a kubeadm-style bootstrap-kubelet.conf: the CA embedded, a token.
func writeBootstrapKubeconfig(t *testing.T, path string, ca *testCA) {
	t.Helper()
	kc := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"kubernetes": {Server: "https://127.0.0.1:6443", CertificateAuthorityData: ca.pem}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"tls-bootstrap-token-user": {Token: "abcdef.0123456789abcdef"}},
		Contexts:       map[string]*clientcmdapi.Context{"tls-bootstrap-token-user@kubernetes": {Cluster: "kubernetes", AuthInfo: "tls-bootstrap-token-user"}},
		CurrentContext: "tls-bootstrap-token-user@kubernetes",
	}
	if err := clientcmd.WriteToFile(kc, path); err != nil {
		t.Fatal(err)
	}
}

// writeEmbeddedKubeconfig writes a kubeadm-init-style kubelet.conf with the client certificate embedded.
func writeEmbeddedKubeconfig(t *testing.T, path string, ca *testCA, certPEM, keyPEM []byte) {
	t.Helper()
	kc := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"kubernetes": {Server: "https://127.0.0.1:6443", CertificateAuthorityData: ca.pem}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"system:node:" + testNode: {ClientCertificateData: certPEM, ClientKeyData: keyPEM}},
		Contexts:       map[string]*clientcmdapi.Context{"default": {Cluster: "kubernetes", AuthInfo: "system:node:" + testNode}},
		CurrentContext: "default",
	}
	if err := clientcmd.WriteToFile(kc, path); err != nil {
		t.Fatal(err)
	}
}

// presented returns the certificate the config's TLS would present in a handshake now.
func presented(t *testing.T, tc *tls.Config) *x509.Certificate {
	t.Helper()
	leaf, err := presentedNow(tc)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// presentedNow is presented for polls: the FileStore rewrites a pair file in place when two updates
// fall in the same second, so a read may see it half written.
func presentedNow(tc *tls.Config) (*x509.Certificate, error) {
	c, err := tc.GetClientCertificate(&tls.CertificateRequestInfo{})
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("no client certificate presented")
	}
	return x509.ParseCertificate(c.Certificate[0])
}

// presents reports whether tc presents want now.
func presents(tc *tls.Config, want *x509.Certificate) bool {
	leaf, err := presentedNow(tc)
	return err == nil && bytes.Equal(leaf.Raw, want.Raw)
}

// eventually polls cond every 50ms until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

type paths struct{ dir, kubeconfig, bootstrap, certDir, current string }

func newPaths(t *testing.T) paths {
	dir := t.TempDir()
	certDir := filepath.Join(dir, "pki")
	return paths{
		dir:        dir,
		kubeconfig: filepath.Join(dir, "kubelet.conf"),
		bootstrap:  filepath.Join(dir, "bootstrap-kubelet.conf"),
		certDir:    certDir,
		current:    filepath.Join(certDir, "kubelet-client-current.pem"),
	}
}

func certutilParse(data []byte) ([]*x509.Certificate, error) { return certutil.ParseCertsPEM(data) }
