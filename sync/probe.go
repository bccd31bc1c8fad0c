package sync

import (
	"context"
	"errors"
	"fmt"
	stdsync "sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
)

// Probe kinds.
const (
	probeStartup   = "startup"
	probeLiveness  = "liveness"
	probeReadiness = "readiness"
)

// prober runs the probes of running containers: one worker per container
// and probe, started and stopped by the loop as containers come and go.
// Results feed the status; a failed startup or liveness probe kills the
// container, which then restarts per its policy.
type prober struct {
	l       *Loop
	mu      stdsync.Mutex
	workers map[string]*probeWorker // containerID/kind
}

type probeWorker struct {
	kind    string
	cancel  context.CancelFunc
	result  ProbeResult
	success bool   // the probe's current verdict
	warning string // the last warning, recorded as an event when it changes
}

func newProber(l *Loop) *prober { return &prober{l: l, workers: map[string]*probeWorker{}} }

// sync starts workers for the probes of every running container of the
// desired pods and stops those of containers that no longer run.
func (pr *prober) sync(ctx context.Context, desired map[string]*manifest.StaticPod, observed map[string]*observedPod) {
	live := map[string]bool{}
	for key, sp := range desired {
		obs := observed[key]
		if obs == nil {
			continue
		}
		for _, s := range obs.sandboxes {
			if !s.ready() || s.uid() != sp.UID || s.hash() != sp.Hash {
				continue
			}
			for _, list := range [][]corev1.Container{sp.Pod.Spec.InitContainers, sp.Pod.Spec.Containers} {
				for i := range list {
					c := &list[i]
					for _, oc := range s.containers {
						if oc.name() != c.Name || oc.c.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
							continue
						}
						for kind, p := range map[string]*corev1.Probe{probeStartup: c.StartupProbe, probeLiveness: c.LivenessProbe, probeReadiness: c.ReadinessProbe} {
							if p == nil {
								continue
							}
							id := oc.c.Id + "/" + kind
							live[id] = true
							pr.ensure(ctx, id, kind, sp, c, p, oc, s.sb.Id)
						}
					}
				}
			}
		}
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for id, w := range pr.workers {
		if !live[id] {
			w.cancel()
			delete(pr.workers, id)
		}
	}
}

func (pr *prober) ensure(ctx context.Context, id, kind string, sp *manifest.StaticPod, c *corev1.Container, p *corev1.Probe, oc *observedContainer, sandboxID string) {
	// The loop's lock is never taken under the prober's.
	target := handlerTarget{containerID: oc.c.Id, host: pr.l.probeHost(sp.Pod.Spec.HostNetwork, pr.l.podIP(sandboxID)), ports: c.Ports}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if _, ok := pr.workers[id]; ok {
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &probeWorker{kind: kind, cancel: cancel, result: ProbeResult{Kind: kind}}
	pr.workers[id] = w
	go pr.run(wctx, w, sp, c, p, target, time.Unix(0, oc.c.GetCreatedAt()))
}

// result returns the verdict of a container's probe and whether it has one.
func (pr *prober) result(containerID, kind string) (ProbeResult, bool, bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	w, ok := pr.workers[containerID+"/"+kind]
	if !ok {
		return ProbeResult{}, false, false
	}
	return w.result, w.success, true
}

// started reports whether a container's startup probe has succeeded (true
// without one).
func (pr *prober) started(containerID string, c *corev1.Container) bool {
	if c.StartupProbe == nil {
		return true
	}
	_, ok, _ := pr.result(containerID, probeStartup)
	return ok
}

func (pr *prober) run(ctx context.Context, w *probeWorker, sp *manifest.StaticPod, c *corev1.Container, p *corev1.Probe, t handlerTarget, started time.Time) {
	period := time.Duration(p.PeriodSeconds) * time.Second
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	first := time.Until(started.Add(time.Duration(p.InitialDelaySeconds) * time.Second))
	timer := time.NewTimer(max(first, 0))
	defer timer.Stop()
	successes, failures := int32(0), int32(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		timer.Reset(period)
		if w.kind != probeStartup && !pr.started(t.containerID, c) {
			continue // startup gates liveness and readiness
		}
		warning, err := pr.probe(ctx, p, t, timeout)
		if ctx.Err() != nil {
			return
		}
		if warning != "" && warning != w.warning {
			pr.l.log.Warn(w.kind+" probe warning", "pod", sp.Key(), "container", c.Name, "warning", warning)
			pr.l.event(Event{Type: EventProbeWarning, Pod: sp.Key(), Container: c.Name, Message: w.kind + " probe: " + warning})
		}
		if err == nil {
			successes, failures = successes+1, 0
		} else {
			successes, failures = 0, failures+1
		}
		pr.mu.Lock()
		before := w.success
		w.result.Last, w.result.ConsecutiveFailures = time.Now(), failures
		w.result.Success = err == nil
		w.result.Message, w.warning = warning, warning
		if err != nil {
			w.result.Message = err.Error()
		}
		switch {
		case err == nil && successes >= p.SuccessThreshold:
			w.success = true
		case err != nil && failures >= p.FailureThreshold:
			w.success = false
		}
		changed := before != w.success
		pr.mu.Unlock()
		if changed {
			pr.l.Wake() // the status changed
		}
		if err != nil && failures >= p.FailureThreshold && w.kind != probeReadiness {
			pr.kill(ctx, sp, c, p, t, w.kind, err)
			return
		}
		if w.kind == probeStartup && w.success {
			return // a startup probe stops once it succeeded; its verdict stays
		}
	}
}

// probe runs one probe; a warning comes with a success that deserves a
// word (an HTTP redirect to another host, not followed).
func (pr *prober) probe(ctx context.Context, p *corev1.Probe, t handlerTarget, timeout time.Duration) (warning string, err error) {
	switch {
	case p.Exec != nil:
		return "", pr.l.execCheck(ctx, t.containerID, p.Exec.Command, timeout)
	case p.HTTPGet != nil:
		return httpCheck(ctx, p.HTTPGet, t, timeout)
	case p.TCPSocket != nil:
		return "", tcpCheck(ctx, p.TCPSocket, t, timeout)
	case p.GRPC != nil:
		return "", grpcCheck(ctx, p.GRPC, t, timeout)
	}
	return "", errors.New("probe has no action")
}

// kill stops a container whose startup or liveness probe failed.
func (pr *prober) kill(ctx context.Context, sp *manifest.StaticPod, c *corev1.Container, p *corev1.Probe, t handlerTarget, kind string, cause error) {
	grace := gracePeriodOf(sp.Pod)
	if p.TerminationGracePeriodSeconds != nil {
		grace = *p.TerminationGracePeriodSeconds
	}
	msg := fmt.Sprintf("%s probe failed %d times: %v", kind, p.FailureThreshold, cause)
	pr.l.log.Warn("killing container: "+kind+" probe failed", "pod", sp.Key(), "container", c.Name, "err", cause)
	pr.l.event(Event{Type: EventContainerKilled, Pod: sp.Key(), Container: c.Name, Message: msg})
	deadline := time.Now().Add(time.Duration(grace) * time.Second)
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		hctx, cancel := context.WithDeadline(ctx, deadline)
		if err := pr.l.runHandler(hctx, c.Lifecycle.PreStop, t, time.Until(deadline)); err != nil {
			pr.l.log.Warn("preStop hook failed", "pod", sp.Key(), "container", c.Name, "err", err)
		}
		cancel()
		grace = max(int64(time.Until(deadline).Round(time.Second).Seconds()), minStopGrace)
	}
	if err := pr.l.rt.StopContainer(ctx, t.containerID, grace); err != nil {
		pr.l.log.Error("kill container after probe failure", "pod", sp.Key(), "container", c.Name, "err", err)
	}
	pr.l.Wake()
}

// status is a container's readiness and probe results: ready when running,
// its startup probe (if any) succeeded and its readiness probe (if any)
// says so.
func (pr *prober) status(containerID string, c *corev1.Container) (bool, []ProbeResult) {
	if c == nil {
		return true, nil
	}
	ready := true
	var out []ProbeResult
	for _, k := range []struct {
		kind  string
		probe *corev1.Probe
	}{{probeStartup, c.StartupProbe}, {probeLiveness, c.LivenessProbe}, {probeReadiness, c.ReadinessProbe}} {
		if k.probe == nil {
			continue
		}
		res, ok, found := pr.result(containerID, k.kind)
		if found && !res.Last.IsZero() {
			out = append(out, res)
		}
		if (k.kind == probeReadiness || k.kind == probeStartup) && !ok {
			ready = false
		}
	}
	return ready, out
}
