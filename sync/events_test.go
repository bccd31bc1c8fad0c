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
	h.rt.events <- nil
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
		if !woken(h.loop) {
			t.Fatal("no relist without an event stream")
		}
	}
}
