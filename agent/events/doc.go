// Package events posts Kubernetes Events for what bosun does to its pods
// and to its node, so that `kubectl describe pod` on a mirror pod, `kubectl
// describe node` and `kubectl get events` tell the story the kubelet would.
//
// It subscribes to the loop's history (new events only: a restarted bosun
// replays nothing), maps each bosun event to a reason, a type (Normal or
// Warning) and a bounded, valid UTF-8 message (mapping.go), and hands it to
// client-go's event broadcaster, whose correlator aggregates repeats and
// rate-limits each object, and whose sink retries a few times and then drops
// while the API server is down.
//
// An event about a pod goes on its mirror pod; until the mirror pod exists it
// waits in a queue bounded in number and in time (queue.go). Node-wide events
// go on the Node. The package never blocks the loop: the history drops events
// for a slow subscriber, and the queue drops its oldest.
package events
