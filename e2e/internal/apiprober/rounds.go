package apiprober

import "time"

// Failures counts the failed rounds that started at or after from and before
// to (no end when to is zero), and returns the first one's error.
func Failures(rounds []Round, from, to time.Time) (n int, first error) {
	for _, r := range rounds {
		if r.Err == nil || r.At.Before(from) || (!to.IsZero() && !r.At.Before(to)) {
			continue
		}
		if n == 0 {
			first = r.Err
		}
		n++
	}
	return n, first
}

// Outage returns when the first failed round at or after from started, and
// when the first good round after the last failed one started. recovered is
// zero when no good round followed the last failure; both are zero when no
// round failed.
func Outage(rounds []Round, from time.Time) (firstFail, recovered time.Time) {
	last := -1
	for i, r := range rounds {
		if r.Err == nil || r.At.Before(from) {
			continue
		}
		if firstFail.IsZero() {
			firstFail = r.At
		}
		last = i
	}
	if last < 0 {
		return time.Time{}, time.Time{}
	}
	for _, r := range rounds[last+1:] {
		if r.Err == nil {
			return firstFail, r.At
		}
	}
	return firstFail, time.Time{}
}

// Written returns the names of the ConfigMaps whose POST answered 201 in
// rounds that started before before, oldest first: writes the apiserver
// acknowledged, which must survive any failover.
func Written(rounds []Round, before time.Time) []string {
	var names []string
	for _, r := range rounds {
		if r.Wrote != "" && r.At.Before(before) {
			names = append(names, r.Wrote)
		}
	}
	return names
}
