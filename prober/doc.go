// Package prober runs the startup, liveness and readiness probes of running
// containers, one worker per container and probe, as the kubelet's prober
// does. Workers only publish results (Manager.Result, Manager.Failed) and
// tell their owner that something changed; they never act on a container.
// The owner (sync's loop) reads the results and decides: a failed startup
// or liveness probe becomes a kill that the loop's apply step carries out.
// A probe that could not be run (ErrNotRun) is tried three times and then
// thrown away with a warning, neither a success nor a failure, as the
// kubelet's worker does.
//
// The runners (exec, httpGet, tcpSocket, grpc, and sleep for hooks) are
// shared with lifecycle hooks, which the loop runs itself (Runner.Hook): an
// httpGet hook fails only when it gets no answer, and a tcpSocket hook
// always fails, as under the kubelet. The runtime calls the package makes
// are ExecSync (Execer) and, once per worker, ContainerStatus
// (StatusReader) to count initialDelaySeconds from the container's start;
// neither changes a container.
package prober
