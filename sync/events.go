package sync

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/bosun-sh/bosun/runtime"
)

// streamRetry is the pause before the event stream is opened again.
const streamRetry = time.Second

// eventFollowUps are the extra syncs after an event: the runtime may
// publish an exit a moment before its CRI state shows it.
var eventFollowUps = []time.Duration{2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, time.Second, 3 * time.Second}

// watchRuntime wakes the loop on every container event of the runtime, and
// again at each of eventFollowUps after it. A runtime without the CRI event
// stream (containerd 1.6) is relisted every RelistPeriod instead. A broken
// stream causes a relist and is reopened. It returns when ctx ends, with
// the goroutine it starts.
func (l *Loop) watchRuntime(ctx context.Context) {
	events := make(chan time.Time, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.followUp(ctx, events)
	}()
	defer func() { <-done }()
	relist := l.clk.NewTicker(l.cfg.RelistPeriod)
	defer relist.Stop()
	for ctx.Err() == nil {
		err := l.followEvents(ctx, events)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, runtime.ErrUnimplemented) {
			l.log.Info("runtime has no container event stream; relisting containers", "period", l.cfg.RelistPeriod)
			for {
				select {
				case <-ctx.Done():
					return
				case <-relist.C():
					l.Wake()
				}
			}
		}
		// The stream broke (runtime restarting?): relist now, retry in a second.
		l.log.Debug("container event stream broken; retrying", "err", err)
		l.Wake()
		select {
		case <-ctx.Done():
			return
		case <-l.clk.After(streamRetry):
		}
	}
}

// followEvents reads the event stream until it fails, waking the loop on
// each event and handing its time to followUp.
func (l *Loop) followEvents(ctx context.Context, events chan<- time.Time) error {
	recv, err := l.rt.ContainerEvents(ctx)
	if err != nil {
		return err
	}
	for {
		if err := recv(); err != nil {
			return err
		}
		l.Wake()
		select {
		case events <- l.clk.Now():
		default: // a burst: the follow-ups of the queued events cover it
		}
	}
}

// followUp wakes the loop at each of eventFollowUps after every event time
// it receives, until ctx ends.
func (l *Loop) followUp(ctx context.Context, events <-chan time.Time) {
	var pending []time.Time // sorted
	timer := l.clk.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-events:
			for _, d := range eventFollowUps {
				pending = append(pending, t.Add(d))
			}
			slices.SortFunc(pending, func(a, b time.Time) int { return a.Compare(b) })
		case <-timer.C():
			now := l.clk.Now()
			for len(pending) > 0 && !pending[0].After(now) {
				pending = pending[1:]
			}
			l.Wake()
		}
		if !timer.Stop() {
			select {
			case <-timer.C():
			default:
			}
		}
		if len(pending) > 0 {
			timer.Reset(max(pending[0].Sub(l.clk.Now()), 0))
		} else {
			timer.Reset(time.Hour)
		}
	}
}
