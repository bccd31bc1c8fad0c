package sync

import (
	"context"
	"errors"
	"time"

	"github.com/bosun-sh/bosun/runtime"
)

// streamRetry is the pause before the event stream is opened again.
const streamRetry = time.Second

// watchRuntime wakes the loop on every container event of the runtime. A
// runtime without the CRI event stream (containerd 1.6) is relisted every
// RelistPeriod instead. A broken stream causes a relist and is reopened.
func (l *Loop) watchRuntime(ctx context.Context) {
	relist := time.NewTicker(l.cfg.RelistPeriod)
	defer relist.Stop()
	for ctx.Err() == nil {
		err := l.followEvents(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, runtime.ErrUnimplemented) {
			l.log.Info("runtime has no container event stream; relisting containers", "period", l.cfg.RelistPeriod)
			for {
				select {
				case <-ctx.Done():
					return
				case <-relist.C:
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
		case <-time.After(streamRetry):
		}
	}
}

// eventFollowUps are the extra syncs after an event: the runtime may
// publish an exit a moment before its CRI state shows it.
var eventFollowUps = []time.Duration{2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, time.Second, 3 * time.Second}

// followEvents reads the event stream until it fails.
func (l *Loop) followEvents(ctx context.Context) error {
	recv, err := l.rt.ContainerEvents(ctx)
	if err != nil {
		return err
	}
	for {
		if err := recv(); err != nil {
			return err
		}
		l.Wake()
		for _, d := range eventFollowUps {
			time.AfterFunc(d, l.Wake)
		}
	}
}
