package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/certificate"
	"k8s.io/client-go/util/keyutil"
)

// rotation is client-go's certificate Manager for this node's client certificate, and the client
// config that reads the Manager's current certificate from the cert dir.
type rotation struct {
	manager      certificate.Manager
	clientConfig *rest.Config
	stop         context.CancelFunc // ends the Manager's goroutines
}

// newRotation builds the Manager as the kubelet does: its store is kubelet-client-*.pem in the cert
// dir, and a certificate embedded in the kubeconfig (kubeadm init writes one) seeds the store and is
// rotated out at once. The returned config reads kubelet-client-current.pem, which client-go reloads
// when it changes. Nothing is requested before start.
func newRotation(ctx context.Context, cfg Config, kubeconfig *rest.Config, newClient newClientFunc) (_ *rotation, retErr error) {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		if retErr != nil {
			cancel()
		}
	}()
	store, err := newStore(ctx, cfg.CertDir)
	if err != nil {
		return nil, err
	}
	var bootstrap *rest.Config
	if exists(cfg.BootstrapKubeconfig) {
		if bootstrap, err = loadRESTConfig(cfg.BootstrapKubeconfig); err != nil {
			return nil, fmt.Errorf("bootstrap kubeconfig %s: %w", cfg.BootstrapKubeconfig, err)
		}
	}
	client := rest.AnonymousClientConfig(kubeconfig)
	client.CertFile = store.CurrentPath()
	client.KeyFile = store.CurrentPath()
	m, err := certificate.NewManager(&certificate.Config{
		ClientsetFn: clientsetFor(cfg, kubeconfig, bootstrap, newClient),
		Template: &x509.CertificateRequest{Subject: pkix.Name{
			CommonName:   nodeUser(cfg.NodeName),
			Organization: []string{nodesGroup},
		}},
		SignerName:              certificatesv1.KubeAPIServerClientKubeletSignerName,
		GetUsages:               certificate.DefaultKubeletClientGetUsages,
		BootstrapCertificatePEM: kubeconfig.CertData,
		BootstrapKeyPEM:         kubeconfig.KeyData,
		CertificateStore:        store,
		Ctx:                     &ctx,
	})
	if err != nil {
		return nil, fmt.Errorf("client certificate manager for %s in %s: %w", cfg.Kubeconfig, cfg.CertDir, err)
	}
	return &rotation{manager: m, clientConfig: client, stop: cancel}, nil
}

// clientsetFor returns the Manager's ClientsetFn: CSRs are made with the current certificate while it
// is valid, else with the bootstrap kubeconfig when there is one, else with the kubeconfig.
func clientsetFor(cfg Config, kubeconfig, bootstrap *rest.Config, newClient newClientFunc) certificate.ClientsetFunc {
	return func(current *tls.Certificate) (kubernetes.Interface, error) {
		c, err := csrClientConfig(kubeconfig, bootstrap, current)
		if err != nil {
			return nil, err
		}
		c.UserAgent = userAgent(cfg.NodeName)
		return newClient(c)
	}
}

func csrClientConfig(kubeconfig, bootstrap *rest.Config, current *tls.Certificate) (*rest.Config, error) {
	if current == nil {
		if bootstrap != nil {
			return rest.CopyConfig(bootstrap), nil
		}
		return rest.CopyConfig(kubeconfig), nil
	}
	c := rest.AnonymousClientConfig(kubeconfig)
	for _, der := range current.Certificate {
		c.CertData = append(c.CertData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := keyutil.MarshalPrivateKeyToPEM(current.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("current client key: %w", err)
	}
	c.KeyData = key
	return c, nil
}
