// Package mirror keeps one mirror pod in the API server per static pod that
// bosun runs, as the kubelet does: created, replaced on a hash change,
// recreated after a user deletes it, removed with its manifest, and its
// status patched from what the sync loop publishes.
//
// It owns only mirror pods bound to this node (the config.mirror annotation
// and spec.nodeName); it never calls the CRI, never gates the sync loop, and
// touches nothing while the manifest directory is unavailable. The API
// server being absent is a normal state: every call is retried with backoff
// and jitter, and a restart catches up with one list and no write for a
// mirror pod that is already right.
//
// The standard library's sync is imported as stdsync; sync is bosun's loop.
package mirror
