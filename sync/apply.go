package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/podfs"
	"github.com/bosun-sh/bosun/runtime"
)

// apply carries out one pod's plan, records its outcome in the pod's state
// and wakes the loop. It is the only code that calls mutating CRI methods,
// and runs for one pod at a time (the pod is busy meanwhile).
func (l *Loop) apply(ctx context.Context, p podPlan) {
	defer l.actions.Done()
	err := l.execute(ctx, p)
	failed := err != nil && ctx.Err() == nil
	var delay time.Duration
	l.mu.Lock()
	s := l.state(podKey(p.key))
	s.busy, s.appliedAt = false, l.clk.Now()
	if len(p.takeOver) > 0 {
		l.takingOver = false
	}
	if p.creation() {
		l.creating--
	}
	switch {
	case failed:
		// The first retry is at once, then with the crash loop backoff.
		delay = s.syncDelay
		s.syncDelay = l.backoff.next(s.syncDelay, s.syncDelay != 0)
		s.syncErr, s.retry = err, l.clk.Now().Add(delay)
	case err == nil:
		s.syncErr, s.retry, s.syncDelay = nil, time.Time{}, 0
	}
	l.mu.Unlock()
	if failed {
		l.log.Error("pod sync failed", "pod", p.key, "retry_in", delay, "err", err)
		l.event(Event{Type: EventSyncFailed, Pod: p.key, Message: err.Error()})
	}
	l.Wake()
}

// podTarget is the sandbox a plan's containers go into.
type podTarget struct {
	id  string
	cfg *runtimeapi.PodSandboxConfig
	ip  string
}

// execute runs a plan's steps in order. The old sandboxes of a replacement
// are stopped while the new sandbox is made and removed after its
// containers started (killSandboxes). The kept dead sandbox is stopped
// before a new one is made (keepDead).
func (l *Loop) execute(ctx context.Context, p podPlan) error {
	if err := l.takeOver(ctx, p); err != nil {
		return err
	}
	old, err := l.killSandboxes(ctx, p)
	if err != nil {
		return err
	}
	if err := l.keepDead(ctx, p); err != nil {
		return err
	}
	if p.finish != nil {
		return l.finishSandbox(ctx, p.key, p.finish)
	}
	var t podTarget
	if len(old) > 0 {
		t, err = l.createBeside(ctx, p, old)
	} else {
		t, err = l.sandboxFor(ctx, p)
	}
	if err != nil {
		return err
	}
	errs := l.runContainers(ctx, p, t)
	if len(old) > 0 {
		errs = append(errs, l.removeReplaced(ctx, p, old))
	}
	return errors.Join(errs...)
}

// runContainers stops (deadline) or kills (probe) containers, starts
// containers and collects garbage in target t, and returns what failed.
func (l *Loop) runContainers(ctx context.Context, p podPlan, t podTarget) []error {
	var errs []error
	if len(p.stop) > 0 {
		errs = append(errs, l.stopPastDeadline(ctx, p, t.ip))
	}
	for _, k := range p.kills {
		errs = append(errs, l.killContainer(ctx, p, k, t.ip))
	}
	for _, id := range p.startCreated {
		if err := l.rt.StartContainer(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", p.key, err))
		}
	}
	started := map[string]uint32{}
	for _, s := range p.starts {
		if s.restartCount == 0 {
			// No earlier instance is known: the log directory may say.
			s.restartCount = l.restartCountFromLogs(podfs.PodRef{Namespace: p.desired.Namespace, Name: p.desired.Name, UID: p.desired.UID}, s.spec.Name)
		}
		if err := l.startContainer(ctx, p.desired, t, s); err != nil {
			errs = append(errs, err)
			continue
		}
		started[s.spec.Name] = s.restartCount
	}
	return append(errs, l.removeContainers(ctx, p, started))
}

// sandboxFor creates the sandbox a plan asks for, or returns the current
// one; a plan with neither (a removal) gets the zero target.
func (l *Loop) sandboxFor(ctx context.Context, p podPlan) (podTarget, error) {
	switch {
	case p.create:
		at := l.clk.Now()
		t, err := l.createSandbox(ctx, p.desired, p.attempt)
		if err != nil {
			return t, err
		}
		l.markStart(p.desired, at)
		l.mu.Lock()
		s := l.state(podKey(p.key))
		for name, rc := range p.carried {
			s.carried[containerRef{p.desired.UID, name}] = rc
		}
		l.mu.Unlock()
		return t, nil
	case p.sandbox != nil:
		cfg := runtime.SandboxConfig(p.desired, p.sandbox.Attempt, l.cfg.Node, l.clk.Now())
		return podTarget{id: p.sandbox.ID, cfg: cfg, ip: l.podIP(p.key, p.sandbox.ID)}, nil
	}
	return podTarget{}, nil
}

// stopPastDeadline stops the running containers of a pod past its
// activeDeadlineSeconds, within the pod's grace period (at least
// minPodKillGrace, as any pod kill), each after its preStop hook (kill).
func (l *Loop) stopPastDeadline(ctx context.Context, p podPlan, podIP string) error {
	l.log.Info("pod ran past its activeDeadlineSeconds; stopping it", "pod", p.key)
	l.event(Event{Type: EventContainerKilled, Pod: p.key, Message: "DeadlineExceeded: the pod ran past its activeDeadlineSeconds"})
	end := l.graceEnd(max(runtime.GracePeriod(p.desired.Pod), minPodKillGrace))
	return l.stopContainers(ctx, p.key, p.stop, podIP, end)
}

// removeContainers removes the containers a plan collects, with their logs
// and log links; started holds the restart counts of the instances just
// started, whose logs stay.
func (l *Loop) removeContainers(ctx context.Context, p podPlan, started map[string]uint32) error {
	var errs []error
	gone := map[string]bool{}
	for _, c := range p.removes {
		if err := l.rt.RemoveContainer(ctx, c.ID); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", p.key, err))
			continue
		}
		gone[c.ID] = true
	}
	if len(gone) > 0 {
		l.pruneLogs(p.sandbox, gone, started)
	}
	return errors.Join(errs...)
}

// podIP is the cached IP of sandbox id of pod key.
func (l *Loop) podIP(key, id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.pods[podKey(key)]; s != nil {
		return s.ips[id]
	}
	return ""
}
