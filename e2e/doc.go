// Package e2e tests the built bosun binary against a real containerd that
// TestMain starts in a temporary directory with its own socket. Run it as
// root: make e2e.
package e2e
