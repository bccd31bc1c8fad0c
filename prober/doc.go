// Package prober runs the startup, liveness and readiness probes of running
// containers, one worker per container and probe, as the kubelet's prober
// does. Workers only publish results (Manager.Result, Manager.Failed) and
// tell their owner that something changed; they never act on a container.
// The owner (sync's loop) reads the results and decides: a failed startup
// or liveness probe becomes a kill that the loop's apply step carries out.
//
// The runners (exec, httpGet, tcpSocket, grpc, and sleep for hooks) are
// shared with lifecycle hooks, which the loop runs itself. The only runtime
// call the package makes is ExecSync, through the Execer interface.
package prober
