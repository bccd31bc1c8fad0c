package credentials

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"
)

// Credential is one username and password to pull from a registry.
type Credential struct {
	// Key is the registry host and path the credential is for, as its
	// source wrote it once normalised ("registry.example.com/team").
	Key string
	// Source names where the credential came from: a file, or "plugin NAME".
	Source string
	// Username and Password are secrets: never log or print them.
	Username, Password string
}

// String is the credential's source and key, never its secrets.
func (c Credential) String() string { return c.Source + " " + c.Key }

// GoString is String, so that %#v prints no secret either.
func (c Credential) GoString() string { return c.String() }

// LogValue is the credential's source and key, never its secrets.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key", c.Key), slog.String("source", c.Source))
}

// Entry is a registry's credential as a Docker config or a plugin gives it.
type Entry struct {
	// Registry is the config's key: a host with an optional port, path and
	// scheme ("https://index.docker.io/v1/", "*.example.com/team").
	Registry           string
	Username, Password string
}

// defaultRegistryKey is the key of Docker Hub's credentials in a Docker
// config ("https://index.docker.io/v1/" once normalised).
const defaultRegistryKey = "index.docker.io"

// Keyring finds the credentials of a repository among registry keys, as the
// kubelet's keyring does. The zero Keyring has no credentials.
type Keyring struct {
	// keys are the distinct keys in reverse lexical order, so that a
	// longer path of the same host comes first.
	keys  []string
	creds map[string][]Credential
}

// NewKeyring returns a keyring of entries from source. An entry whose
// registry is not a URL is left out and named in the returned error, with
// the others kept.
func NewKeyring(source string, entries []Entry) (*Keyring, error) {
	k := &Keyring{creds: map[string][]Credential{}}
	var bad []string
	entries = slices.Clone(entries)
	slices.SortStableFunc(entries, func(a, b Entry) int { return cmp.Compare(a.Registry, b.Registry) })
	for _, e := range entries {
		key, err := registryKey(e.Registry)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q", e.Registry))
			continue
		}
		if _, ok := k.creds[key]; !ok {
			k.keys = append(k.keys, key)
		}
		k.creds[key] = append(k.creds[key], Credential{Key: key, Source: source, Username: e.Username, Password: e.Password})
	}
	slices.Sort(k.keys)
	slices.Reverse(k.keys)
	if len(bad) > 0 {
		return k, fmt.Errorf("%s: registries that are not URLs are ignored: %s", source, strings.Join(bad, ", "))
	}
	return k, nil
}

// registryKey is the key of a Docker config's registry: its host and port
// with its path, a leading /v1 or /v2 dropped, and no path when that leaves
// "/".
func registryKey(registry string) (string, error) {
	if !strings.HasPrefix(registry, "https://") && !strings.HasPrefix(registry, "http://") {
		registry = "https://" + registry
	}
	u, err := url.Parse(registry)
	if err != nil {
		return "", err
	}
	p := u.Path
	if strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/v2/") {
		p = p[3:]
	}
	if p == "" || p == "/" {
		return u.Host, nil
	}
	return u.Host + p, nil
}

// Lookup returns the credentials for repo (a name as Repository returns
// it), to be tried in order: those of every key that matches it, the
// longest first; failing any, Docker Hub's for a Docker Hub repository.
func (k *Keyring) Lookup(repo string) []Credential {
	if k == nil {
		return nil
	}
	var out []Credential
	for _, key := range k.keys {
		if Match(key, repo) {
			out = append(out, k.creds[key]...)
		}
	}
	if len(out) == 0 && isDefaultRegistry(repo) {
		out = append(out, k.creds[defaultRegistryKey]...)
	}
	return out
}

// isDefaultRegistry reports whether repo is on Docker Hub.
func isDefaultRegistry(repo string) bool {
	first, _, found := strings.Cut(repo, "/")
	switch {
	case first == "":
		return false
	case !found, first == "docker.io", first == "index.docker.io":
		return true
	}
	return !strings.ContainsAny(first, ".:")
}

// Match reports whether glob, a registry key or a plugin's matchImages
// entry, matches target, an image repository: the ports are the same, the
// hosts have as many dot-separated labels and each label of glob matches
// target's as a shell pattern ("*.example.com"), and glob's path is a prefix
// of target's.
func Match(glob, target string) bool {
	g, err := url.Parse("https://" + glob)
	if err != nil {
		return false
	}
	t, err := url.Parse("https://" + target)
	if err != nil {
		return false
	}
	gLabels, gPort := hostLabels(g.Host)
	tLabels, tPort := hostLabels(t.Host)
	if gPort != tPort || len(gLabels) != len(tLabels) || !strings.HasPrefix(t.Path, g.Path) {
		return false
	}
	for i, label := range gLabels {
		if ok, err := path.Match(label, tLabels[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

// hostLabels splits a URL's host into its dot-separated labels and its port.
func hostLabels(hostport string) ([]string, string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	return strings.Split(host, "."), port
}
