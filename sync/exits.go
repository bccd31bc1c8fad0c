package sync

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bosun-sh/bosun/runtime"
)

// exitWait is how long a sync waits for the ContainerStatus calls it
// starts (one per newly exited container) before it goes on without them:
// a hung call must stall neither the other pods nor the loop.
const exitWait = 250 * time.Millisecond

// exitFetch is one ContainerStatus call in flight.
type exitFetch struct {
	c    *observedContainer
	p    *observedPod
	done chan *exitRecord // buffered: the fetch never blocks
	// watch is what the loop saw of the container before its exit.
	watch watch
	// late is set when the sync that started the fetch stopped waiting;
	// the fetch then wakes the loop when it ends.
	late atomic.Bool
}

// observeExits attaches to each exited container how it ended, and
// records what the observation that began at listed saw of the others
// (podState.watches). The runtime is asked once per exited container, in
// the background; the sync waits up to exitWait for the calls it starts. A
// pod with an exit still unknown is marked incomplete. Exits and watches of
// containers that are gone are forgotten.
func (l *Loop) observeExits(ctx context.Context, pods map[string]*observedPod, listed time.Time) {
	var fetches []*exitFetch
	l.mu.Lock()
	for key, p := range pods {
		var prev time.Time // the pod's last observation; zero: not known (adopted)
		if st := l.pods[podKey(key)]; st != nil {
			prev = st.listed
		}
		st := l.state(podKey(key))
		for _, s := range p.sandboxes {
			for _, c := range s.containers {
				w, seen := st.watches[c.ID]
				if !seen {
					w = watch{born: prev}
				}
				if !c.Exited() {
					if w.first.IsZero() {
						w.first = listed
					}
					w.last = listed
					st.watches[c.ID] = w
					continue
				}
				st.watches[c.ID] = w
				if c.exit = st.exits[c.ID]; c.exit != nil {
					continue
				}
				p.incomplete = true
				if !st.fetching[c.ID] {
					st.fetching[c.ID] = true
					fetches = append(fetches, &exitFetch{c: c, p: p, watch: w, done: make(chan *exitRecord, 1)})
				}
			}
		}
	}
	for _, st := range l.pods {
		st.listed = listed
	}
	l.forgetExits(pods)
	l.mu.Unlock()
	for _, f := range fetches {
		l.fetches.Add(1)
		go l.fetchExit(ctx, f)
	}
	l.awaitExits(fetches)
}

// awaitExits waits up to exitWait for fetches; the pods whose exits all
// arrived are complete again.
func (l *Loop) awaitExits(fetches []*exitFetch) {
	timer := l.clk.NewTimer(exitWait)
	defer timer.Stop()
	expired := false
	for _, f := range fetches {
		if !expired {
			select {
			case f.c.exit = <-f.done:
				continue
			case <-timer.C():
				expired = true
			}
		}
		f.late.Store(true)
		select {
		case f.c.exit = <-f.done: // it ended just now
		default:
		}
	}
	for _, f := range fetches {
		f.p.incomplete = unknownExit(f.p)
	}
}

// unknownExit reports whether an exited container of p has no known end.
func unknownExit(p *observedPod) bool {
	for _, s := range p.sandboxes {
		for _, c := range s.containers {
			if c.Exited() && c.exit == nil {
				return true
			}
		}
	}
	return false
}

// fetchExit asks how a container ended and records it in its pod's state
// (an unknown end is used once, not kept).
func (l *Loop) fetchExit(ctx context.Context, f *exitFetch) {
	defer l.fetches.Done()
	rec := l.exitOf(ctx, f.p.key, f.c)
	if !rec.unknown {
		rec.exited, rec.ran = exitClock(rec.exit.Started, rec.exit.Finished, l.clk.Now(), f.watch)
		rec.placed = true
	}
	l.mu.Lock()
	st := l.state(podKey(f.p.key))
	delete(st.fetching, f.c.ID)
	if !rec.unknown {
		st.exits[f.c.ID] = rec
	}
	l.mu.Unlock()
	f.done <- rec
	if f.late.Load() {
		l.Wake()
	}
}

// forgetExits forgets the exits and watches of containers not observed
// any more; the caller holds l.mu.
func (l *Loop) forgetExits(pods map[string]*observedPod) {
	for key, s := range l.pods {
		live := map[string]bool{}
		if p := pods[string(key)]; p != nil {
			for _, sb := range p.sandboxes {
				for _, c := range sb.containers {
					live[c.ID] = true
				}
			}
		}
		for id := range s.exits {
			if !live[id] {
				delete(s.exits, id)
			}
		}
		for id := range s.watches {
			if !live[id] {
				delete(s.watches, id)
			}
		}
	}
}

// exitOf asks the runtime how container c ended and records the exit as an
// event once the first sync is done. A failed call yields an empty exit
// (exit code 0 unknown), asked again next time.
func (l *Loop) exitOf(ctx context.Context, key string, c *observedContainer) *exitRecord {
	st, err := l.rt.ContainerStatus(ctx, c.ID)
	if err != nil {
		l.log.Warn("container status", "container", c.ID, "err", err)
		return &exitRecord{unknown: true, exit: runtime.ExitOf(nil)}
	}
	rec := &exitRecord{exit: runtime.ExitOf(st)}
	l.mu.Lock()
	synced := l.synced
	l.mu.Unlock()
	if synced {
		msg := fmt.Sprintf("exit code %d", rec.exit.Code)
		if rec.exit.Reason != "" {
			msg += ", " + rec.exit.Reason
		}
		l.event(Event{Type: EventContainerExited, Pod: key, Container: c.Name, Message: msg})
	}
	return rec
}
