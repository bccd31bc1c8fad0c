// Package manifest owns static pod manifests: it decodes a file strictly into
// a v1.Pod, applies the fixed set of defaults, validates the result, derives
// the pod's identity (name, UID, spec hash) and watches the manifest directory.
//
// It must not talk to the container runtime: everything here is pure except
// reading files, so `bosun validate` and the daemon share exactly this code.
package manifest
