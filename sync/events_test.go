package sync

import (
	"context"
	"errors"
	"testing"
	"time"
)

// woken waits for the loop's wake signal.
func woken(l *Loop) bool {
	select {
	case <-l.wake:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

// wokenStepping waits for the loop's wake signal, moving the fake clock on
// by d now and then.
func wokenStepping(h *harness, d time.Duration) bool {
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-h.loop.wake:
			return true
		case <-poll.C:
			h.clock.Step(d)
		case <-deadline:
			return false
		}
	}
}

func TestContainerEventsWakeTheLoop(t *testing.T) {
	h := newHarness(t)
	h.rt.events = make(chan error)
	h.loop.cfg.RelistPeriod = time.Hour // only events may wake it
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.loop.watchRuntime(ctx)
	for range 3 {
		h.rt.events <- nil
		if !woken(h.loop) {
			t.Fatal("an event did not wake the loop")
		}
	}
	// A broken stream is reopened.
	h.rt.events <- errors.New("stream reset")
	// The stream is opened again streamRetry later, on the loop's clock.
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for sent := false; !sent; {
		select {
		case h.rt.events <- nil:
			sent = true
		case <-poll.C:
			h.clock.Step(streamRetry)
		}
	}
	if !woken(h.loop) {
		t.Fatal("no wake after the stream was reopened")
	}
}

func TestNoEventStreamFallsBackToRelisting(t *testing.T) {
	h := newHarness(t)
	h.loop.cfg.RelistPeriod = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.loop.watchRuntime(ctx)
	for range 3 {
		if !wokenStepping(h, 10*time.Millisecond) {
			t.Fatal("no relist without an event stream")
		}
	}
}
