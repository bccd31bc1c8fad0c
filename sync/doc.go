// Package sync is bosun's reconcile loop, and only that. Each sync
// observes the runtime (by labels, so a restarted bosun needs nothing but
// the runtime: observe.go), plans every pod with plan, a pure function of
// the desired pod, what was observed, the pod's state and the time (plan.go,
// plancontainers.go), and applies the plans (apply.go), one goroutine per
// pod that is not busy. Only apply calls mutating CRI methods. File and
// container events, and probe results, only wake the loop; a periodic full
// relist is the safety net.
//
// Each action has its own file: create.go, restart.go (CrashLoopBackOff and
// kills after a failed probe), replace.go, remove.go, takeover.go. What the
// loop remembers of a pod is one podState (state.go); the status the API
// shows is computed from an immutable copy of it, without the loop's lock,
// which is never held across I/O (podstatus.go, containerstatus.go).
//
// Probes run in package prober and only publish results; files below the
// pod directories and the pod logs directory are package podfs's; the
// decoding of what bosun records on sandboxes and containers is package
// runtime's (runtime.SandboxOf, runtime.ContainerOf).
//
// It must never stop or remove anything that lacks the bosun.dev/managed
// label, and never stop a pod because bosun exits, because the runtime is
// unreachable, or because its manifest stopped parsing.
//
// The package name shadows the standard library's sync, which is therefore
// imported as stdsync.
package sync
