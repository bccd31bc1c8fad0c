// Package sync is bosun's reconcile loop: it observes what runs in the
// container runtime (by labels, so a restarted bosun needs nothing but the
// runtime), compares it with the manifests' desired set, plans per pod and
// acts: create, restart with CrashLoopBackOff, replace on a hash change,
// remove, adopt. File and container events only wake the loop; a periodic
// full relist is the safety net.
//
// Each action has its own file: create.go, restart.go, replace.go,
// remove.go, adopt.go. The package name shadows the standard library's sync,
// which is therefore imported as stdsync.
//
// It must never stop or remove anything that lacks the bosun.dev/managed
// label, and never stop a pod because bosun exits, because the runtime is
// unreachable, or because its manifest stopped parsing.
package sync
