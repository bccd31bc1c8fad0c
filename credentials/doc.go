// Package credentials finds the registry credentials of an image pull as the
// kubelet does for a static pod: the node's Docker config keyring
// (config.json, or the legacy .dockercfg, in the kubelet's search order) and
// credential provider plugins (--image-credential-provider-config and
// --image-credential-provider-bin-dir, run through the exec API
// credentialprovider.kubelet.k8s.io). Matching follows the kubelet's keyring:
// a key is a registry host with an optional path, globs in the host's labels,
// the port must match, the path is a prefix, and every matching key is tried,
// the longest first.
//
// It must never log or print a secret: a Credential prints as its source and
// key, never as its username or password, and a plugin's output is neither
// logged nor put into an error.
package credentials
