package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	stdsync "sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/runtime"
)

// minStopGrace is the least time StopContainer gets after a preStop hook.
const minStopGrace = 2

// killSandbox stops a sandbox's containers, then stops and removes the
// sandbox. App (and init) containers stop first, in parallel, each after its
// preStop hook and within the grace period recorded on it; sidecars stop
// after them. It is idempotent: what is already gone is not an error. A pod
// gone for good (removed or replaced) loses its pod and log directories; a
// dead sandbox keeps the log of each container's last instance, which
// `bosun logs --previous` reads once the container runs again.
func (l *Loop) killSandbox(ctx context.Context, s *observedSandbox, reason killReason) error {
	key := runtime.Describe(s.sb.GetMetadata())
	if err := l.stopSandbox(ctx, key, s); err != nil {
		return err
	}
	if err := l.rt.RemovePodSandbox(ctx, s.sb.Id); err != nil {
		return fmt.Errorf("pod %s: %w", key, err)
	}
	l.mu.Lock()
	l.backoff.forget(s.uid() + "/")
	if reason != reasonDied {
		for k := range l.carried {
			if strings.HasPrefix(k, s.uid()+"/") {
				delete(l.carried, k)
			}
		}
	}
	l.mu.Unlock()
	if reason == reasonDied {
		gone := map[string]bool{}
		for _, c := range s.containers {
			gone[c.c.Id] = true
		}
		l.pruneLogs(s, gone, nil)
	} else {
		l.removePodDir(s.uid())
		l.removePodLogs(s)
		l.removePodCgroup(key, s.uid())
	}
	l.log.Info("sandbox removed", "pod", key, "sandbox", s.sb.Id, "attempt", s.attempt(), "reason", string(reason), "file", s.manifest())
	typ := EventPodRemoved
	if reason == reasonDied {
		typ = EventSandboxDied
	}
	l.event(Event{Type: typ, Pod: key, File: s.manifest(), Message: fmt.Sprintf("sandbox %s attempt %d %s", short(s.sb.Id), s.attempt(), reason)})
	return nil
}

// finishSandbox stops the containers that still run in the dead sandbox of
// a pod that is done, then the sandbox (which releases its network), and
// keeps it: its exited containers say that the pod ran, so no new sandbox
// is made.
func (l *Loop) finishSandbox(ctx context.Context, key string, s *observedSandbox) error {
	if err := l.stopSandbox(ctx, key, s); err != nil {
		return err
	}
	l.mu.Lock()
	l.finished[s.sb.Id] = true
	l.mu.Unlock()
	l.log.Info("sandbox died and the pod is done: no new sandbox", "pod", key, "sandbox", s.sb.Id, "attempt", s.attempt(), "file", s.manifest())
	l.event(Event{Type: EventSandboxDied, Pod: key, File: s.manifest(), Message: fmt.Sprintf("sandbox %s attempt %d died; the pod is done, no new sandbox", short(s.sb.Id), s.attempt())})
	return nil
}

// stopSandbox stops a sandbox's running containers (app and init ones
// first, sidecars last, each after its preStop hook and within its grace
// period), then the sandbox.
func (l *Loop) stopSandbox(ctx context.Context, key string, s *observedSandbox) error {
	deadline := time.Now()
	var first, last []*observedContainer
	for _, c := range s.containers {
		// StopPodSandbox kills what is left at once: a container with no
		// grace period and no preStop hook needs no call of its own.
		if c.exited() || (runtime.GracePeriodOf(c.c.GetAnnotations()) == 0 && c.c.GetAnnotations()[runtime.AnnotationPreStopHandler] == "") {
			continue
		}
		if c.c.GetAnnotations()[runtime.AnnotationContainerKind] == "sidecar" {
			last = append(last, c)
		} else {
			first = append(first, c)
		}
		if g := time.Now().Add(time.Duration(runtime.GracePeriodOf(c.c.GetAnnotations())) * time.Second); g.After(deadline) {
			deadline = g
		}
	}
	for _, group := range [][]*observedContainer{first, last} {
		if err := l.stopContainers(ctx, key, group, l.podIP(s.sb.Id), deadline); err != nil {
			return err
		}
	}
	if err := l.rt.StopPodSandbox(ctx, s.sb.Id); err != nil {
		return fmt.Errorf("pod %s: %w", key, err)
	}
	return nil
}

// stopContainers runs the preStop hooks of containers and stops them, all
// in parallel; the whole pod shares one deadline, and StopContainer always
// gets at least minStopGrace seconds after a hook.
func (l *Loop) stopContainers(ctx context.Context, key string, cs []*observedContainer, podIP string, deadline time.Time) error {
	var wg stdsync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.stopContainer(ctx, key, c, podIP, deadline)
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

func (l *Loop) stopContainer(ctx context.Context, key string, c *observedContainer, podIP string, deadline time.Time) error {
	ann := c.c.GetAnnotations()
	if raw := ann[runtime.AnnotationPreStopHandler]; raw != "" {
		var h corev1.LifecycleHandler
		if err := json.Unmarshal([]byte(raw), &h); err == nil {
			hctx, cancel := context.WithDeadline(ctx, deadline)
			// A hostNetwork sandbox has no IP of its own: the node's is used.
			err := l.runHandler(hctx, &h, handlerTarget{containerID: c.c.Id, host: l.probeHost(false, podIP)}, time.Until(deadline))
			cancel()
			if err != nil {
				l.log.Warn("preStop hook failed", "pod", key, "container", c.name(), "err", err)
			}
		}
	}
	grace := max(int64(time.Until(deadline).Round(time.Second).Seconds()), 0)
	if ann[runtime.AnnotationPreStopHandler] != "" {
		grace = max(grace, minStopGrace)
	}
	if err := l.rt.StopContainer(ctx, c.c.Id, grace); err != nil {
		return fmt.Errorf("pod %s: %w", key, err)
	}
	return nil
}
