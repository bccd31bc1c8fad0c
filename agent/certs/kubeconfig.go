package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/transport"
	certutil "k8s.io/client-go/util/cert"
)

// pollInterval is how often Start looks for a kubeconfig that is not there yet.
const pollInterval = time.Second

// waitForKubeconfig returns once cfg.Kubeconfig or cfg.BootstrapKubeconfig exists, logging the wait
// once, or ctx's error when ctx ends first.
func waitForKubeconfig(ctx context.Context, cfg Config) error {
	if exists(cfg.Kubeconfig) || exists(cfg.BootstrapKubeconfig) {
		return nil
	}
	cfg.Log.Info("waiting for a kubeconfig", "file", cfg.Kubeconfig, "bootstrap", cfg.BootstrapKubeconfig)
	t := cfg.Clock.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for kubeconfig %s or bootstrap kubeconfig %q: %w", cfg.Kubeconfig, cfg.BootstrapKubeconfig, ctx.Err())
		case <-t.C():
		}
		if exists(cfg.Kubeconfig) || exists(cfg.BootstrapKubeconfig) {
			return nil
		}
	}
}

// loadRESTConfig reads a kubeconfig's current context into a rest.Config.
func loadRESTConfig(path string) (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
}

// clientCertProblem says why the kubeconfig at path cannot serve as this node's credentials (missing,
// unreadable, without a client certificate, or with one expired at now); "" means it can.
func clientCertProblem(path string, now time.Time) string {
	if _, err := os.Stat(path); err != nil {
		return err.Error()
	}
	c, err := loadRESTConfig(path)
	if err != nil {
		return err.Error()
	}
	tc, err := c.TransportConfig()
	if err != nil {
		return err.Error()
	}
	// TLSConfigFor reads the certificate and key files into tc.TLS.
	if _, err := transport.TLSConfigFor(tc); err != nil {
		return err.Error()
	}
	certs, err := certutil.ParseCertsPEM(tc.TLS.CertData)
	if err != nil {
		return "client certificate: " + err.Error()
	}
	return expiredProblem(certs, now)
}

// expiredProblem names the first certificate of certs that has expired at now, or returns "".
func expiredProblem(certs []*x509.Certificate, now time.Time) string {
	for _, c := range certs {
		if now.After(c.NotAfter) {
			return fmt.Sprintf("client certificate %q expired at %s", c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return ""
}

// nodeKubeconfig is the kubeconfig the kubelet writes after its bootstrap: the bootstrap kubeconfig's
// server and CA, and the client certificate and key both read from pemPath.
func nodeKubeconfig(boot *rest.Config, pemPath string) clientcmdapi.Config {
	cluster := &clientcmdapi.Cluster{
		Server:                boot.Host,
		InsecureSkipTLSVerify: boot.Insecure,
		CertificateAuthority:  boot.CAFile,
	}
	if boot.CAFile == "" {
		cluster.CertificateAuthorityData = boot.CAData
	}
	return clientcmdapi.Config{
		Clusters:  map[string]*clientcmdapi.Cluster{"default-cluster": cluster},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{"default-auth": {ClientCertificate: pemPath, ClientKey: pemPath}},
		Contexts: map[string]*clientcmdapi.Context{"default-context": {
			Cluster: "default-cluster", AuthInfo: "default-auth", Namespace: "default",
		}},
		CurrentContext: "default-context",
	}
}

// writeKubeconfig writes kc to path atomically with mode 0600.
func writeKubeconfig(path string, kc clientcmdapi.Config) error {
	data, err := clientcmd.Write(kc)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return writeFileAtomic(path, data, 0o600)
}

// writeFileAtomic replaces path with data: a temp file in the same directory, fsynced, renamed over
// path, then the directory fsynced. A link at path is replaced, never followed.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (retErr error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if retErr != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err := writeSyncClose(f, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func writeSyncClose(f *os.File, data []byte, mode os.FileMode) error {
	_, err := f.Write(data)
	err = errors.Join(err, f.Chmod(mode))
	err = errors.Join(err, f.Sync())
	return errors.Join(err, f.Close())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
