package certs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// DefaultCertDir is the kubelet's default --cert-dir.
const DefaultCertDir = "/var/lib/kubelet/pki"

// Config says where this node's credentials live and who they must name.
type Config struct {
	Kubeconfig          string // --kubeconfig, e.g. /etc/kubernetes/kubelet.conf
	BootstrapKubeconfig string // --bootstrap-kubeconfig, may be ""
	CertDir             string // --cert-dir, default DefaultCertDir
	NodeName            string
	RotateCertificates  bool // KubeletConfiguration rotateCertificates (kubeadm sets true)
	Clock               clock.WithTicker
	Log                 *slog.Logger
}

// newClientFunc builds the clientset Start talks through; tests swap in a fake.
type newClientFunc func(*rest.Config) (kubernetes.Interface, error)

func newClientset(c *rest.Config) (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(c)
}

// Start waits (until ctx ends; polling about once a second, logging once) for Kubeconfig or
// BootstrapKubeconfig to exist, bootstraps a client certificate through a CSR when Kubeconfig is
// missing or its certificate has expired, checks who the credentials say they are, and returns a
// rest.Config for the API server; when RotateCertificates is set, the certificate is rotated before
// it expires until ctx ends, and the returned config picks the new one up.
//
// Start retries an unreachable or failing (5xx, 429) API server with backoff until ctx ends; it
// returns at once a *CredentialsError (401/403), an *IdentityError, a *CSRError (denied or failed)
// and errors in local files, so that the caller decides when to try again.
func Start(ctx context.Context, cfg Config) (*rest.Config, error) {
	return start(ctx, cfg, newClientset)
}

func start(ctx context.Context, cfg Config, newClient newClientFunc) (*rest.Config, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	// client-go's certificate code logs through klog; route it to our slog handler.
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(cfg.Log.Handler()))

	if err := waitForKubeconfig(ctx, cfg); err != nil {
		return nil, err
	}
	if err := bootstrapIfNeeded(ctx, cfg, newClient); err != nil {
		return nil, err
	}
	restCfg, err := loadRESTConfig(cfg.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	var rot *rotation
	if cfg.RotateCertificates {
		rot, err = newRotation(ctx, cfg, restCfg, newClient)
		if err != nil {
			return nil, err
		}
		restCfg = rot.clientConfig
	}
	restCfg, err = checked(ctx, cfg, restCfg, newClient)
	if err != nil {
		if rot != nil {
			rot.stop()
		}
		return nil, err
	}
	if rot != nil {
		rot.manager.Start()
	}
	return restCfg, nil
}

// checked sets restCfg's user agent and returns it once the API server says who it authenticates.
func checked(ctx context.Context, cfg Config, restCfg *rest.Config, newClient newClientFunc) (*rest.Config, error) {
	restCfg.UserAgent = userAgent(cfg.NodeName)

	client, err := newClient(restCfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	err = retry(ctx, cfg, "check identity", func(ctx context.Context) error {
		return checkIdentity(ctx, client, cfg.Kubeconfig, cfg.NodeName)
	})
	if err != nil {
		return nil, err
	}
	return restCfg, nil
}

// withDefaults fills in the cert dir, clock and logger and rejects a config that names no node or
// kubeconfig.
func withDefaults(cfg Config) (Config, error) {
	var errs []error
	if cfg.NodeName == "" {
		errs = append(errs, errors.New("certs: node name is required"))
	}
	if cfg.Kubeconfig == "" {
		errs = append(errs, errors.New("certs: kubeconfig path is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	if cfg.CertDir == "" {
		cfg.CertDir = DefaultCertDir
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return cfg, nil
}

// userAgent is what the API server's audit log shows for this node's requests.
func userAgent(node string) string {
	return "bosun/" + node
}

// exists reports whether path names something; errors other than "not there" count as existing so
// that the caller's read reports them.
func exists(path string) bool {
	if path == "" {
		return false
	}
	_, err := os.Stat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
