package events

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// waiting is a bosun event's postings waiting for its pod's mirror pod.
type waiting struct {
	pod   string
	since time.Time
	posts []posting
}

// queue holds the events that wait for their mirror pod, oldest first, at
// most max of them.
type queue struct {
	max   int
	items []waiting
	// perPod counts the items of each pod, so that an event whose mirror
	// pod exists looks for earlier ones only when there are some.
	perPod map[string]int
}

// newQueue returns an empty queue of at most max events.
func newQueue(max int) *queue { return &queue{max: max, perPod: map[string]int{}} }

// push adds w and reports how many of the oldest events it dropped to stay
// within the bound.
func (q *queue) push(w waiting) int {
	dropped := 0
	for len(q.items) >= q.max && len(q.items) > 0 {
		q.forget(q.items[0].pod)
		q.items[0] = waiting{}
		q.items = q.items[1:]
		dropped++
	}
	q.items = append(q.items, w)
	q.perPod[w.pod]++
	return dropped
}

// take removes and returns the events of pod, oldest first.
func (q *queue) take(pod string) []waiting {
	if q.perPod[pod] == 0 {
		return nil
	}
	var out []waiting
	q.filter(func(w waiting) bool {
		if w.pod == pod {
			out = append(out, w)
			return false
		}
		return true
	})
	return out
}

// sweep removes and returns the events whose mirror pod now exists (with
// its reference), oldest first, and drops those that waited longer than
// maxWait, returning how many of each pod it dropped.
func (q *queue) sweep(now time.Time, maxWait time.Duration, ref func(pod string) (*corev1.ObjectReference, bool)) (ready []waiting, refs map[string]*corev1.ObjectReference, expired map[string]int) {
	refs = map[string]*corev1.ObjectReference{}
	missing := map[string]bool{}
	q.filter(func(w waiting) bool {
		if !missing[w.pod] && refs[w.pod] == nil {
			if r, ok := ref(w.pod); ok {
				refs[w.pod] = r
			} else {
				missing[w.pod] = true
			}
		}
		switch {
		case refs[w.pod] != nil:
			ready = append(ready, w)
			return false
		case now.Sub(w.since) > maxWait:
			if expired == nil {
				expired = map[string]int{}
			}
			expired[w.pod]++
			return false
		}
		return true
	})
	return ready, refs, expired
}

// len is the number of waiting events.
func (q *queue) len() int { return len(q.items) }

// filter keeps the items for which keep returns true, in order.
func (q *queue) filter(keep func(waiting) bool) {
	kept := q.items[:0]
	for _, w := range q.items {
		if keep(w) {
			kept = append(kept, w)
		} else {
			q.forget(w.pod)
		}
	}
	clear(q.items[len(kept):])
	q.items = kept
}

// forget counts one item of pod less.
func (q *queue) forget(pod string) {
	if q.perPod[pod]--; q.perPod[pod] <= 0 {
		delete(q.perPod, pod)
	}
}
