package sync

import (
	"context"
	"fmt"
	stdsync "sync"

	"github.com/bosun-sh/bosun/runtime"
)

// killSandbox stops all containers of a sandbox in parallel, each with the
// grace period recorded on it, then stops and removes the sandbox. It is
// idempotent: what is already gone is not an error.
func (l *Loop) killSandbox(ctx context.Context, s *observedSandbox, reason string) error {
	key := runtime.Describe(s.sb.GetMetadata())
	var wg stdsync.WaitGroup
	errs := make([]error, len(s.containers))
	for i, c := range s.containers {
		if c.exited() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			grace := runtime.GracePeriodOf(c.c.GetAnnotations())
			if err := l.rt.StopContainer(ctx, c.c.Id, grace); err != nil {
				errs[i] = fmt.Errorf("pod %s: %w", key, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
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
	l.mu.Unlock()
	l.log.Info("sandbox removed", "pod", key, "sandbox", s.sb.Id, "attempt", s.attempt(), "reason", reason, "file", s.manifest())
	typ := EventPodRemoved
	if reason == "sandbox died" {
		typ = EventSandboxDied
	}
	l.event(Event{Type: typ, Pod: key, File: s.manifest(), Message: fmt.Sprintf("sandbox %s attempt %d %s", short(s.sb.Id), s.attempt(), reason)})
	return nil
}
