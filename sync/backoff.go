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
// it has one) may restart after an instance that ran for ran and exited at
// exited (on the loop's clock: exitClock), having been restarted restarts
// times before. A bosun restarted in the middle of a crash loop (no delay
// known, restarts > 0) waits at least initial instead of restarting at
// once. reset reports a run long enough to forget the delay.
func (b backoffPolicy) readyAt(d time.Duration, ok bool, ran time.Duration, exited time.Time, restarts uint32) (at time.Time, reset bool) {
	if ran >= b.reset {
		return time.Time{}, true
	}
	if !ok {
		if restarts == 0 {
			return time.Time{}, false
		}
		d = b.initial
	}
	return exited.Add(d), false
}

// watch is what the loop saw of one container instance, on its own clock
// (monotonic in production: the wall clock may jump). Zero times are not
// known.
type watch struct {
	// born: the instance did not exist yet (it was not listed) at born.
	born time.Time
	// first and last are the first and the last observations that listed
	// it not exited.
	first, last time.Time
}

// exitClock places the end of an instance on the loop's clock, so that its
// backoff and its run length do not move with the wall clock: the runtime
// stamps started and finished with the wall clock of the moment, which may
// have jumped since, or in between. now is when the loop learned of the
// exit, w what it saw before. It returns when the instance exited and how
// long it ran.
//
// The exit lies at or before now, and after the last observation that saw
// the instance alive (or that did not list it): the runtime's distance
// between finished and now (the wall clock) is clamped to that window.
// Without a bound (a container adopted exited) only the future is cut off:
// an exit is never later than now. The run length is the runtime's,
// clamped to what the loop saw: at least last-first, at most exited-born.
func exitClock(started, finished, now time.Time, w watch) (exited time.Time, ran time.Duration) {
	after := w.last
	if after.IsZero() {
		after = w.born
	}
	ago := max(now.Sub(finished), 0)
	if !after.IsZero() {
		ago = min(ago, max(now.Sub(after), 0))
	}
	exited = now.Add(-ago)
	if started.IsZero() {
		return exited, 0
	}
	ran = max(finished.Sub(started), 0)
	if !w.first.IsZero() {
		ran = max(ran, w.last.Sub(w.first))
	}
	if !w.born.IsZero() {
		ran = min(ran, max(exited.Sub(w.born), 0))
	}
	return exited, ran
}

// next is the delay after one more restart with the current delay d (ok:
// it has one).
func (b backoffPolicy) next(d time.Duration, ok bool) time.Duration {
	if !ok {
		return b.initial
	}
	return min(2*d, b.max)
}
