package credentials

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	stdsync "sync"
	"time"

	"golang.org/x/sync/singleflight"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
)

// Bounds of a plugin run: its time (the kubelet's), its answer on stdout,
// and what of its stderr goes into an error.
const (
	pluginTimeout   = time.Minute
	maxPluginOutput = 1 << 20
	maxPluginStderr = 512
)

// globalCacheKey is the cache key of a response whose cacheKeyType is Global.
const globalCacheKey = "<global>"

// The cacheKeyType values of a plugin's response.
const (
	cacheKeyImage    = "Image"
	cacheKeyRegistry = "Registry"
	cacheKeyGlobal   = "Global"
)

// pluginRequest is the CredentialProviderRequest a plugin reads on stdin.
type pluginRequest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Image      string `json:"image"`
}

// pluginResponse is the CredentialProviderResponse a plugin writes on stdout.
type pluginResponse struct {
	APIVersion    string                `json:"apiVersion"`
	Kind          string                `json:"kind"`
	CacheKeyType  string                `json:"cacheKeyType"`
	CacheDuration *metav1.Duration      `json:"cacheDuration,omitempty"`
	Auth          map[string]pluginAuth `json:"auth,omitempty"`
}

// pluginAuth is a registry's credential in a plugin's response.
type pluginAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// plugin is a credential provider: its executable, run for the images it
// matches, and the keyrings it answered, cached.
type plugin struct {
	spec  providerSpec
	file  string
	clock clock.PassiveClock
	// environ is the environment the plugin gets before spec.Env.
	environ func() []string
	group   singleflight.Group

	mu    stdsync.Mutex
	cache map[string]cacheEntry
}

// cacheEntry is a plugin's answer kept until expires.
type cacheEntry struct {
	keyring *Keyring
	expires time.Time
}

// newPlugin returns the provider spec, whose executable is in binDir.
func newPlugin(spec providerSpec, binDir string, clk clock.PassiveClock) (*plugin, error) {
	file, err := pluginPath(binDir, spec.Name)
	if err != nil {
		return nil, err
	}
	return &plugin{spec: spec, file: file, clock: clk, environ: os.Environ, cache: map[string]cacheEntry{}}, nil
}

// source names the plugin in a Credential.
func (p *plugin) source() string { return "plugin " + p.spec.Name }

// matches reports whether the plugin is for repo: one of its matchImages
// matches it, and it does not require a service account (a static pod has
// none).
func (p *plugin) matches(repo string) bool {
	if t := p.spec.TokenAttributes; t != nil && t.RequireServiceAccount != nil && *t.RequireServiceAccount {
		return false
	}
	for _, m := range p.spec.MatchImages {
		if Match(m, repo) {
			return true
		}
	}
	return false
}

// lookup returns the plugin's credentials for repo, from its cache or from
// a run of the plugin; nil when it is not for repo.
func (p *plugin) lookup(ctx context.Context, repo string) ([]Credential, error) {
	if !p.matches(repo) {
		return nil, nil
	}
	if k, ok := p.cached(repo); ok {
		return k.Lookup(repo), nil
	}
	v, err, _ := p.group.Do(repo, func() (any, error) {
		resp, err := p.run(context.WithoutCancel(ctx), repo)
		if err != nil {
			return nil, err
		}
		return p.store(repo, resp)
	})
	if err != nil {
		return nil, err
	}
	return v.(*Keyring).Lookup(repo), nil
}

// cacheKeys are the keys a cached answer for repo may have, in the order
// the kubelet looks: the image, its registry, the global one.
func cacheKeys(repo string) []string {
	registry, _, _ := strings.Cut(repo, "/")
	return []string{repo, registry, globalCacheKey}
}

// cached returns a keyring answered for repo that has not expired, and
// forgets the expired ones.
func (p *plugin) cached(repo string) (*Keyring, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	for key, e := range p.cache {
		if now.After(e.expires) {
			delete(p.cache, key)
		}
	}
	for _, key := range cacheKeys(repo) {
		if e, ok := p.cache[key]; ok {
			return e.keyring, true
		}
	}
	return nil, false
}

// store turns a response for repo into a keyring and caches it by its
// cacheKeyType for its cacheDuration (the provider's defaultCacheDuration
// when it has none; zero: not cached).
func (p *plugin) store(repo string, resp *pluginResponse) (*Keyring, error) {
	keys := cacheKeys(repo)
	var key string
	switch resp.CacheKeyType {
	case cacheKeyImage:
		key = keys[0]
	case cacheKeyRegistry:
		key = keys[1]
	case cacheKeyGlobal:
		key = keys[2]
	default:
		return nil, fmt.Errorf("%s: response's cacheKeyType %q is not Image, Registry or Global", p.source(), resp.CacheKeyType)
	}
	entries := make([]Entry, 0, len(resp.Auth))
	for registry, a := range resp.Auth {
		entries = append(entries, Entry{Registry: registry, Username: a.Username, Password: a.Password})
	}
	k, err := NewKeyring(p.source(), entries)
	if err != nil {
		return nil, err
	}
	d := p.spec.DefaultCacheDuration.Duration
	if resp.CacheDuration != nil {
		d = resp.CacheDuration.Duration
	}
	if d > 0 {
		p.mu.Lock()
		p.cache[key] = cacheEntry{keyring: k, expires: p.clock.Now().Add(d)}
		p.mu.Unlock()
	}
	return k, nil
}

// run runs the plugin for repo, within pluginTimeout: the request on its
// stdin, the response read from its stdout (at most maxPluginOutput bytes,
// never logged nor put into an error).
func (p *plugin) run(ctx context.Context, repo string) (*pluginResponse, error) {
	req, err := json.Marshal(pluginRequest{APIVersion: p.spec.APIVersion, Kind: "CredentialProviderRequest", Image: repo})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, pluginTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.file, p.spec.Args...)
	cmd.Env = p.environ()
	for _, e := range p.spec.Env {
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	stdout, stderr := &boundedBuffer{max: maxPluginOutput}, &boundedBuffer{max: maxPluginStderr}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(req), stdout, stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("%s for image %s: %w (stderr %s)", p.source(), repo, err, strconv.Quote(stderr.String()))
	}
	if stdout.over {
		return nil, fmt.Errorf("%s for image %s: response larger than %d bytes", p.source(), repo, maxPluginOutput)
	}
	return decodeResponse(stdout.Bytes(), p.spec.APIVersion, p.source())
}

// decodeResponse decodes a plugin's response strictly, which must be a
// CredentialProviderResponse of apiVersion. Its errors quote nothing of it
// but its apiVersion and kind.
func decodeResponse(data []byte, apiVersion, source string) (*pluginResponse, error) {
	var resp pluginResponse
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		var typeMeta struct{ APIVersion, Kind string }
		_ = json.Unmarshal(data, &typeMeta)
		return nil, fmt.Errorf("%s: response is not a CredentialProviderResponse (apiVersion %q, kind %q)", source, typeMeta.APIVersion, typeMeta.Kind)
	}
	if resp.APIVersion != apiVersion || resp.Kind != "CredentialProviderResponse" {
		return nil, fmt.Errorf("%s: response's apiVersion %q kind %q, want kind CredentialProviderResponse of %s", source, resp.APIVersion, resp.Kind, apiVersion)
	}
	if dec.More() {
		return nil, errors.New(source + ": response has more than one JSON value")
	}
	return &resp, nil
}

// boundedBuffer keeps the first max bytes written to it and notes whether
// more came; it accepts everything, so that the writer is never blocked. It
// has no ReadFrom, so that io.Copy goes through Write.
type boundedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.max - b.buf.Len(); len(p) > room {
		p, b.over = p[:max(room, 0)], true
	}
	b.buf.Write(p)
	return n, nil
}

// Bytes returns the bytes kept.
func (b *boundedBuffer) Bytes() []byte { return b.buf.Bytes() }

// String returns the bytes kept.
func (b *boundedBuffer) String() string { return b.buf.String() }
