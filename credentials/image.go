package credentials

import "strings"

// defaultDomain is the registry of an image name without one.
const defaultDomain = "docker.io"

// Repository returns image's repository as the kubelet looks up its
// credentials: the registry made explicit (docker.io by default,
// index.docker.io written as docker.io, library/ added to a one-part Docker
// Hub name), without its tag or digest ("busybox:1.36" is
// "docker.io/library/busybox").
func Repository(image string) string {
	name, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	domain, rest := defaultDomain, name
	if first, after, ok := strings.Cut(name, "/"); ok && isDomain(first) {
		domain, rest = first, after
	}
	if domain == "index.docker.io" {
		domain = defaultDomain
	}
	if domain == defaultDomain && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	return domain + "/" + rest
}

// isDomain reports whether the first part of an image name is a registry:
// it has a dot or a port, is localhost, or has an upper-case letter (which a
// repository path cannot have).
func isDomain(s string) bool {
	return strings.ContainsAny(s, ".:") || s == "localhost" || strings.ToLower(s) != s
}
