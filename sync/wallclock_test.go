package sync

import (
	"testing"
	"time"
)

// The fake clock is the loop's own clock, which does not jump (the
// monotonic clock in production); the runtime stamps a container's start
// and exit with the wall clock, which may. restamp gives a container the
// stamps of a wall clock that jumped.

// restamp sets the runtime's start and exit stamps of container id (zero:
// unchanged).
func (h *harness) restamp(id string, started, finished time.Time) {
	h.t.Helper()
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	c := h.rt.containers[id]
	if c == nil {
		h.t.Fatalf("no container %s", id)
	}
	if !started.IsZero() {
		c.StartedAt = started.UnixNano()
	}
	if !finished.IsZero() {
		c.FinishedAt = finished.UnixNano()
	}
}

// crashOnce starts pod c, makes its container exit once and lets the loop
// restart it at once (the first restart has no backoff); the next delay is
// 10 s. It returns the running second instance, seen running by the loop.
func crashOnce(t *testing.T) (*harness, string) {
	h := newHarness(t, load(t, "/m/c.yaml", podYAML("c", "Always", "false", "main")))
	h.sync()
	h.clock.Add(time.Second)
	h.rt.exit(h.mustRun("c-node1/main").Id, 1)
	h.sync()
	c := h.mustRun("c-node1/main")
	if c.Metadata.Attempt != 1 {
		t.Fatalf("first restart attempt = %d, want 1 at once", c.Metadata.Attempt)
	}
	h.clock.Add(time.Second)
	h.sync() // sees it running
	return h, c.Id
}

// wantBackoff checks that the restart after an exit at exitAt comes 10 s
// after it on the loop's clock, neither sooner nor later, as attempt.
func wantBackoff(t *testing.T, h *harness, exitAt time.Time, attempt uint32) {
	t.Helper()
	next := h.sync()
	if _, ok := h.rt.running()["c-node1/main"]; ok {
		t.Fatalf("restarted at once, want a backoff of 10 s")
	}
	if want := exitAt.Add(10 * time.Second); !next.Equal(want) {
		t.Errorf("the loop asks to wake at %v, want %v (10 s after the exit)", next, want)
	}
	h.clock.Add(10*time.Second - time.Millisecond)
	h.sync()
	if _, ok := h.rt.running()["c-node1/main"]; ok {
		t.Fatalf("restarted before its backoff of 10 s")
	}
	h.clock.Add(time.Millisecond)
	h.sync()
	if c := h.mustRun("c-node1/main"); c.Metadata.Attempt != attempt {
		t.Errorf("attempt = %d, want %d", c.Metadata.Attempt, attempt)
	}
}

func TestAnExitStampedBeforeTheWallClockWentBackWaitsOnlyItsBackoff(t *testing.T) {
	h, id := crashOnce(t)
	exitAt := h.clock.Now()
	h.rt.exit(id, 1)
	// The runtime stamped the exit, then the wall clock went back 40 s: the
	// exit lies 40 s ahead of the loop's wall clock.
	h.restamp(id, time.Time{}, exitAt.Add(40*time.Second))
	wantBackoff(t, h, exitAt, 2)
}

func TestAnExitStampedAfterTheWallClockWentBackDoesNotCutTheBackoffShort(t *testing.T) {
	h, id := crashOnce(t)
	exitAt := h.clock.Now()
	h.rt.exit(id, 1)
	// Started before a jump back of 40 s, exited after it: the exit is
	// stamped 39.8 s before the start, and 40 s behind the loop's clock.
	h.restamp(id, exitAt.Add(-200*time.Millisecond), exitAt.Add(-40*time.Second))
	wantBackoff(t, h, exitAt, 2)
}

func TestAJumpForwardDuringARunDoesNotResetTheBackoff(t *testing.T) {
	h, id := crashOnce(t)
	exitAt := h.clock.Now()
	h.rt.exit(id, 1)
	// The wall clock jumped 10 minutes forward while the instance ran for a
	// second: by the runtime's stamps it ran over the 600 s reset.
	h.restamp(id, time.Time{}, exitAt.Add(10*time.Minute))
	wantBackoff(t, h, exitAt, 2)
}

func TestARunLongerThanTheResetThatTheLoopWatchedResetsTheBackoffThoughTheWallClockWentBack(t *testing.T) {
	h, id := crashOnce(t)
	h.clock.Add(601 * time.Second)
	h.sync() // a periodic sync sees it still running
	h.rt.exit(id, 1)
	// The wall clock went back 40 s in the middle: by the stamps the run
	// was shorter than the reset, by the loop's clock it was not.
	h.restamp(id, time.Time{}, h.clock.Now().Add(-40*time.Second))
	h.sync()
	c := h.mustRun("c-node1/main")
	if c.Metadata.Attempt != 2 {
		t.Fatalf("attempt = %d, want 2 restarted at once after a run of 602 s", c.Metadata.Attempt)
	}
	// The backoff was forgotten: the next crash waits 10 s again, not 20.
	h.clock.Add(time.Second)
	h.sync()
	exitAt := h.clock.Now()
	h.rt.exit(c.Id, 1)
	wantBackoff(t, h, exitAt, 3)
}

func TestAnAdoptedExitStampedInTheFutureWaitsOnlyTheInitialBackoff(t *testing.T) {
	h, id := crashOnce(t)
	exitAt := h.clock.Now()
	h.rt.exit(id, 1)
	h.restamp(id, time.Time{}, exitAt.Add(40*time.Second))
	h.loop = h.newLoop() // bosun restarted: it never saw the instance run
	wantBackoff(t, h, exitAt, 2)
}
