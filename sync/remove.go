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
// after them. It is idempotent: what is already gone is not an error.
func (l *Loop) killSandbox(ctx context.Context, s *observedSandbox, reason string) error {
	key := runtime.Describe(s.sb.GetMetadata())
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
	if err := l.rt.RemovePodSandbox(ctx, s.sb.Id); err != nil {
		return fmt.Errorf("pod %s: %w", key, err)
	}
	l.mu.Lock()
	l.backoff.forget(s.uid() + "/")
	if reason != "sandbox died" {
		for k := range l.carried {
			if strings.HasPrefix(k, s.uid()+"/") {
				delete(l.carried, k)
			}
		}
	}
	l.mu.Unlock()
	if reason != "sandbox died" {
		l.removePodDir(s.uid())
	}
	l.log.Info("sandbox removed", "pod", key, "sandbox", s.sb.Id, "attempt", s.attempt(), "reason", reason, "file", s.manifest())
	typ := EventPodRemoved
	if reason == "sandbox died" {
		typ = EventSandboxDied
	}
	l.event(Event{Type: typ, Pod: key, File: s.manifest(), Message: fmt.Sprintf("sandbox %s attempt %d %s", short(s.sb.Id), s.attempt(), reason)})
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
			host := podIP
			if host == "" {
				host = "127.0.0.1"
			}
			hctx, cancel := context.WithDeadline(ctx, deadline)
			err := l.runHandler(hctx, &h, handlerTarget{containerID: c.c.Id, host: host}, time.Until(deadline))
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
