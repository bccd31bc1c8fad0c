package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	stdsync "sync"
	"time"

	"github.com/bosun-sh/bosun/prober"
	"github.com/bosun-sh/bosun/runtime"
)

// killSandbox stops a sandbox's containers, then stops and removes the
// sandbox (removeSandbox, stay being the pod's sandboxes that remain). App
// (and init) containers stop first, in parallel, each after its preStop
// hook and within the grace period recorded on it; sidecars stop after
// them. A dead sandbox that keepDead stopped is only removed, as the
// kubelet's garbage collection removes one. It is idempotent: what is
// already gone is not an error.
func (l *Loop) killSandbox(ctx context.Context, s *observedSandbox, reason killReason, stay []*observedSandbox) error {
	if !l.keptStopped(s) {
		if err := l.stopSandbox(ctx, describe(s), s); err != nil {
			return err
		}
	}
	return l.removeSandbox(ctx, s, reason, stay)
}

// keptStopped reports whether s is a kept dead sandbox that keepDead
// stopped.
func (l *Loop) keptStopped(s *observedSandbox) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.pods[podKey(describe(s))]
	return st != nil && st.keptDead[s.ID]
}

// removeSandbox removes a stopped sandbox and forgets its containers. A pod
// gone for good (removed or replaced) loses its pod and log directories and
// its cgroup; a dead sandbox of a pod that lives on loses the log files of
// its containers only, but those the sandboxes in stay still need
// (pruneRemoved). It is idempotent.
func (l *Loop) removeSandbox(ctx context.Context, s *observedSandbox, reason killReason, stay []*observedSandbox) error {
	key := describe(s)
	if err := l.rt.RemovePodSandbox(ctx, s.ID); err != nil {
		return fmt.Errorf("pod %s: %w", key, err)
	}
	l.mu.Lock()
	l.state(podKey(key)).forgetContainers(s.UID, reason == reasonDied)
	l.mu.Unlock()
	l.log.Info("sandbox removed", "pod", key, "sandbox", s.ID, "attempt", s.Attempt, "reason", reason.String(), "file", s.Manifest)
	if reason == reasonDied {
		// A dead one's death was reported when it was kept (keepDead).
		l.pruneRemoved(podRefOf(s), s.containers, stay)
		return nil
	}
	l.removePodFiles(key, s)
	l.event(Event{Type: EventPodRemoved, Pod: key, File: s.Manifest, Message: fmt.Sprintf("sandbox %s attempt %d %s", short(s.ID), s.Attempt, reason)})
	return nil
}

// keepDead stops the kept dead sandbox of plan p once (keepStop: its
// running containers, then the sandbox, which releases its network) and
// marks it kept, then removes its old instances with their logs
// (keepRemoves). Its death is an event when a new sandbox replaces it; a
// kept sandbox stopped again (bosun restarted) is only logged.
func (l *Loop) keepDead(ctx context.Context, p podPlan) error {
	s := p.kept
	if s == nil {
		return nil
	}
	if p.keepStop {
		if err := l.stopSandbox(ctx, p.key, s); err != nil {
			return err
		}
		l.mu.Lock()
		l.state(podKey(p.key)).keptDead[s.ID] = true
		l.mu.Unlock()
		attrs := []any{"pod", p.key, "sandbox", s.ID, "attempt", s.Attempt, "file", s.Manifest}
		if p.create {
			l.log.Info("sandbox died: stopped and kept; a new one replaces it", attrs...)
			l.event(Event{Type: EventSandboxDied, Pod: p.key, File: s.Manifest, Message: fmt.Sprintf("sandbox %s attempt %d died; stopped and kept, a new one replaces it", short(s.ID), s.Attempt)})
		} else {
			l.log.Info("dead sandbox stopped and kept", attrs...)
		}
	}
	var errs []error
	var gone []*observedContainer
	for _, c := range p.keepRemoves {
		if err := l.rt.RemoveContainer(ctx, c.ID); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", p.key, err))
			continue
		}
		gone = append(gone, c)
	}
	if len(gone) > 0 {
		l.pruneRemoved(podRefOf(s), gone, p.survivors())
	}
	return errors.Join(errs...)
}

// removePodFiles removes what a pod gone for good leaves: its directory,
// its logs and their links, its cgroup.
func (l *Loop) removePodFiles(key string, s *observedSandbox) {
	ref := podRefOf(s)
	for _, c := range s.containers {
		l.logs.Unlink(ref, c.Name, c.ID)
	}
	l.logs.RemovePod(ref)
	if other, shared := l.sharedUID(s.UID, key); shared {
		// The directory and cgroup are named by the UID alone.
		l.log.Warn("pod directory and cgroup kept: another pod has the same uid", "pod", key, "uid", s.UID, "other", other)
		return
	}
	if err := l.fs.RemovePodDir(s.UID); err != nil {
		l.log.Warn("remove pod directory", "uid", s.UID, "err", err)
	}
	l.removePodCgroup(key, s.UID)
}

// finishSandbox stops the containers that still run in the sandbox of a
// pod that is done (its sidecars, in a ready one), then the sandbox (which
// releases its IP and host ports), and keeps it: its exited containers say
// that the pod ran, so no new sandbox is made. A dead sandbox in which
// nothing runs (a finished pod adopted by a restarted bosun: the runtime
// does not say whether it was stopped or died) is stopped again, which is
// idempotent, as the kubelet stops a terminated pod again after its restart;
// that is logged but no event.
func (l *Loop) finishSandbox(ctx context.Context, key string, s *observedSandbox) error {
	running := slices.ContainsFunc(s.containers, func(c *observedContainer) bool { return !c.Exited() })
	if err := l.stopSandbox(ctx, key, s); err != nil {
		return err
	}
	l.mu.Lock()
	l.state(podKey(key)).finished[s.ID] = true
	l.mu.Unlock()
	attrs := []any{"pod", key, "sandbox", s.ID, "attempt", s.Attempt, "file", s.Manifest}
	switch {
	case s.Ready:
		l.log.Info("pod completed: its sidecars and sandbox are stopped", attrs...)
		l.event(Event{Type: EventPodCompleted, Pod: key, File: s.Manifest, Message: fmt.Sprintf("the pod is done: sandbox %s attempt %d stopped", short(s.ID), s.Attempt)})
	case running:
		l.log.Info("sandbox died and the pod is done: no new sandbox", attrs...)
		l.event(Event{Type: EventSandboxDied, Pod: key, File: s.Manifest, Message: fmt.Sprintf("sandbox %s attempt %d died; the pod is done, no new sandbox", short(s.ID), s.Attempt)})
	default:
		l.log.Info("the pod is done: its dead sandbox is stopped and kept", attrs...)
	}
	return nil
}

// stopSandbox stops a sandbox's running containers (stopRunning), then the
// sandbox.
func (l *Loop) stopSandbox(ctx context.Context, key string, s *observedSandbox) error {
	if err := l.stopRunning(ctx, key, s); err != nil {
		return err
	}
	if err := l.rt.StopPodSandbox(ctx, s.ID); err != nil {
		return fmt.Errorf("pod %s: %w", key, err)
	}
	return nil
}

// stopRunning kills the running containers of sandbox s, every one (as the
// kubelet's killPod does, so that even a container with no grace period
// gets SIGTERM and minStopGrace seconds): app and init ones first, sidecars
// last, each after its preStop hook (kill). The pod's grace period is the
// longest recorded on its containers, at least minPodKillGrace. It returns
// once every container it stops is dead (StopContainer waits for the
// task's exit).
func (l *Loop) stopRunning(ctx context.Context, key string, s *observedSandbox) error {
	var grace int64
	var first, last []*observedContainer
	for _, c := range s.containers {
		if c.Exited() {
			continue
		}
		if c.Kind == runtime.KindSidecar {
			last = append(last, c)
		} else {
			first = append(first, c)
		}
		grace = max(grace, c.Grace)
	}
	deadline := l.graceEnd(max(grace, minPodKillGrace))
	ip := l.podIP(key, s.ID)
	for _, group := range [][]*observedContainer{first, last} {
		if err := l.stopContainers(ctx, key, group, ip, deadline); err != nil {
			return err
		}
	}
	return nil
}

// stopContainers kills containers (kill), all in parallel, within one
// deadline.
func (l *Loop) stopContainers(ctx context.Context, key string, cs []*observedContainer, podIP string, deadline time.Time) error {
	var wg stdsync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A hostNetwork sandbox has no IP of its own: the node's is used.
			// Its ports come from the container itself: its manifest may be gone.
			target := prober.Target{ContainerID: c.ID, Host: l.probeHost(false, podIP), Ports: c.Ports}
			errs[i] = l.kill(ctx, containerKill{pod: key, name: c.Name, id: c.ID, preStop: c.PreStop, target: target, deadline: deadline})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
