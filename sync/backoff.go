package sync

import (
	"strings"
	"time"
)

// backoff is the kubelet's CrashLoopBackOff per container: the first restart
// happens at once, each later one waits delay after the last exit, starting
// at initial and doubling up to max; a run of at least reset forgets it.
type backoff struct {
	initial, max, reset time.Duration
	entries             map[string]time.Duration
}

func newBackoff(initial, max, reset time.Duration) *backoff {
	return &backoff{initial: initial, max: max, reset: reset, entries: map[string]time.Duration{}}
}

// readyAt is the earliest time the container key may be restarted after an
// instance that ran from started to finished. restarts is how often it was
// restarted before, so a bosun restarted in the middle of a crash loop waits
// at least the initial delay instead of restarting at once.
func (b *backoff) readyAt(key string, started, finished time.Time, restarts uint32) time.Time {
	if !started.IsZero() && finished.Sub(started) >= b.reset {
		delete(b.entries, key)
		return time.Time{}
	}
	d, ok := b.entries[key]
	if !ok {
		if restarts == 0 {
			return time.Time{}
		}
		d = b.initial
	}
	return finished.Add(d)
}

// next records a restart of key and grows its delay.
func (b *backoff) next(key string) {
	d, ok := b.entries[key]
	switch {
	case !ok:
		d = b.initial
	default:
		d = min(2*d, b.max)
	}
	b.entries[key] = d
}

// delay is the current delay of key, zero when it has none.
func (b *backoff) delay(key string) time.Duration { return b.entries[key] }

// forget drops every entry whose key starts with prefix.
func (b *backoff) forget(prefix string) {
	for k := range b.entries {
		if strings.HasPrefix(k, prefix) {
			delete(b.entries, k)
		}
	}
}
