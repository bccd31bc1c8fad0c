package sync

import "time"

// backoffPolicy is the kubelet's CrashLoopBackOff, per container and for
// failed pod syncs: the first restart happens at once, each later one waits
// a delay after the last exit, starting at initial and doubling up to max; a
// run of at least reset forgets it. Delays live in podState; the policy
// only computes.
type backoffPolicy struct {
	initial, max, reset time.Duration
}

// readyAt is the earliest time a container with the current delay d (ok:
// it has one) may restart after an instance that ran from started to
// finished, having been restarted restarts times before. A bosun restarted
// in the middle of a crash loop (no delay known, restarts > 0) waits at
// least initial instead of restarting at once. reset reports a run long
// enough to forget the delay.
func (b backoffPolicy) readyAt(d time.Duration, ok bool, started, finished time.Time, restarts uint32) (at time.Time, reset bool) {
	if !started.IsZero() && finished.Sub(started) >= b.reset {
		return time.Time{}, true
	}
	if !ok {
		if restarts == 0 {
			return time.Time{}, false
		}
		d = b.initial
	}
	return finished.Add(d), false
}

// next is the delay after one more restart with the current delay d (ok:
// it has one).
func (b backoffPolicy) next(d time.Duration, ok bool) time.Duration {
	if !ok {
		return b.initial
	}
	return min(2*d, b.max)
}
