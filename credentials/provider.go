package credentials

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	stdsync "sync"
	"time"

	"k8s.io/utils/clock"
)

// dockerConfigLifetime is how long a Docker config read is used before the
// files are read again (the kubelet's).
const dockerConfigLifetime = 5 * time.Minute

// Config configures a Provider.
type Config struct {
	// RootDir is bosun's root dir, searched first for config.json and
	// .dockercfg (the kubelet's --root-dir).
	RootDir string
	// Home is $HOME, searched for .docker/config.json and .dockercfg
	// (empty: not searched).
	Home string
	// PluginConfig and PluginBinDir are --image-credential-provider-config
	// and --image-credential-provider-bin-dir; no plugins when PluginConfig
	// is empty.
	PluginConfig, PluginBinDir string
	Log                        *slog.Logger
	// Clock is the real clock when nil.
	Clock clock.PassiveClock
}

// Provider gives the credentials of an image pull: the Docker config
// keyring's, then each plugin's, as the kubelet unites them.
type Provider struct {
	log                   *slog.Logger
	clock                 clock.PassiveClock
	configJSON, dockercfg []string
	plugins               []*plugin

	mu      stdsync.Mutex
	keyring *Keyring
	expires time.Time
	// file is the Docker config file read last (empty: none).
	file string
}

// New returns the Provider of cfg. When either plugin flag is set, a plugin
// config that is missing or not valid, a bin dir or a plugin executable
// that is missing is an error, as it stops the kubelet.
func New(cfg Config) (*Provider, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	p := &Provider{log: cfg.Log, clock: cfg.Clock}
	p.configJSON, p.dockercfg = SearchDirs(cfg.RootDir, cfg.Home)
	if cfg.PluginConfig == "" && cfg.PluginBinDir == "" {
		return p, nil
	}
	if cfg.PluginConfig == "" {
		return nil, errors.New("credential provider bin dir is set but no credential provider config")
	}
	if fi, err := os.Stat(cfg.PluginBinDir); err != nil {
		return nil, fmt.Errorf("credential provider bin dir: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("credential provider bin dir %s: not a directory", cfg.PluginBinDir)
	}
	specs, err := readProviderConfig(cfg.PluginConfig)
	if err != nil {
		return nil, err
	}
	for _, spec := range specs {
		pl, err := newPlugin(spec, cfg.PluginBinDir, cfg.Clock)
		if err != nil {
			return nil, err
		}
		if t := spec.TokenAttributes; t != nil && *t.RequireServiceAccount {
			cfg.Log.Warn("credential provider requires a service account, which static pods have none of: it is never used", "provider", spec.Name)
		}
		p.plugins = append(p.plugins, pl)
	}
	return p, nil
}

// Lookup returns the credentials to try, in order, for a pull of image:
// the Docker config keyring's matches, then each plugin's. None means an
// anonymous pull. Failures to read a config or run a plugin are logged and
// give no credentials.
func (p *Provider) Lookup(ctx context.Context, image string) []Credential {
	repo := Repository(image)
	creds := p.dockerKeyring().Lookup(repo)
	for _, pl := range p.plugins {
		c, err := pl.lookup(ctx, repo)
		if err != nil {
			p.log.Error("credential provider failed", "provider", pl.spec.Name, "image", repo, "err", err)
		}
		creds = append(creds, c...)
	}
	return creds
}

// dockerKeyring returns the Docker config keyring, read again when the one
// read before is older than dockerConfigLifetime.
func (p *Provider) dockerKeyring() *Keyring {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keyring != nil && p.clock.Now().Before(p.expires) {
		return p.keyring
	}
	file, entries, err := ReadDockerConfig(p.configJSON, p.dockercfg)
	if err != nil {
		p.log.Warn("docker config skipped", "err", err)
	}
	k, err := NewKeyring(file, entries)
	if err != nil {
		p.log.Warn("docker config", "file", file, "err", err)
	}
	if file != p.file {
		p.log.Info("docker config for image pulls", "file", file, "registries", len(k.keys))
		p.file = file
	}
	p.keyring, p.expires = k, p.clock.Now().Add(dockerConfigLifetime)
	return k
}
