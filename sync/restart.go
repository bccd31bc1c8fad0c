package sync

import (
	"context"
	"fmt"

	"github.com/bosun-sh/bosun/prober"
	"github.com/bosun-sh/bosun/runtime"
)

// recordRestart counts a restart of a container of pod key in its
// CrashLoopBackOff, so the next restart waits longer; reset forgets the
// delay first (the last instance ran long enough).
func (l *Loop) recordRestart(key string, ref containerRef, reset bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.state(podKey(key))
	if reset {
		delete(s.delays, ref)
	}
	d, ok := s.delays[ref]
	s.delays[ref] = l.backoff.next(d, ok)
}

// killContainer kills a container whose startup or liveness probe failed,
// as the kubelet does (kill), within the probe's
// terminationGracePeriodSeconds (else the pod's). It then restarts per its
// restart policy.
func (l *Loop) killContainer(ctx context.Context, p podPlan, k probeKill, podIP string) error {
	kind := k.result.Kind
	probe := k.spec.LivenessProbe
	if kind == prober.Startup {
		probe = k.spec.StartupProbe
	}
	grace := runtime.GracePeriod(p.desired.Pod)
	if probe.TerminationGracePeriodSeconds != nil {
		grace = *probe.TerminationGracePeriodSeconds
	}
	msg := fmt.Sprintf("%s probe failed %d times: %s", kind, probe.FailureThreshold, k.result.Message)
	l.log.Warn("killing container: "+kind.String()+" probe failed", "pod", p.key, "container", k.spec.Name, "err", k.result.Message)
	l.event(Event{Type: EventContainerKilled, Pod: p.key, Container: k.spec.Name, Message: msg})
	kill := containerKill{pod: p.key, name: k.spec.Name, id: k.c.ID, deadline: l.graceEnd(grace),
		target: prober.Target{ContainerID: k.c.ID, Host: l.probeHost(p.desired.Pod.Spec.HostNetwork, podIP), Ports: k.spec.Ports}}
	if h := k.spec.Lifecycle; h != nil {
		kill.preStop = h.PreStop
	}
	if err := l.kill(ctx, kill); err != nil {
		return fmt.Errorf("pod %s: kill container %s after its %s probe failed: %w", p.key, k.spec.Name, kind, err)
	}
	return nil
}
