package sync

import (
	stdsync "sync"
	"time"
)

// EventType names what happened.
type EventType string

// The events bosun records.
const (
	EventPodCreated          EventType = "PodCreated"
	EventPodReplaced         EventType = "PodReplaced"
	EventPodRemoved          EventType = "PodRemoved"
	EventSandboxDied         EventType = "SandboxDied"
	EventContainerStarted    EventType = "ContainerStarted"
	EventContainerRestarted  EventType = "ContainerRestarted"
	EventContainerExited     EventType = "ContainerExited"
	EventContainerKilled     EventType = "ContainerKilled"
	EventProbeWarning        EventType = "ProbeWarning"
	EventManifestRejected    EventType = "ManifestRejected"
	EventManifestConflict    EventType = "ManifestConflict"
	EventSyncFailed          EventType = "SyncFailed"
	EventRuntimeUnavailable  EventType = "RuntimeUnavailable"
	EventRuntimeAvailable    EventType = "RuntimeAvailable"
	EventManifestsUnreadable EventType = "ManifestDirectoryUnavailable"
)

// Event is one thing that happened to a pod, a manifest or the runtime.
type Event struct {
	Time      time.Time
	Type      EventType
	Pod       string
	Container string
	File      string
	Message   string
}

// historySize is how many events are kept for `bosun events`.
const historySize = 1000

// History keeps the last events and fans new ones out to subscribers. A
// subscriber that does not keep up loses events rather than slowing bosun.
type History struct {
	mu     stdsync.Mutex
	events []Event
	subs   map[chan Event]struct{}
}

// NewHistory returns an empty History.
func NewHistory() *History { return &History{subs: map[chan Event]struct{}{}} }

// Add records e.
func (h *History) Add(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.events) == historySize {
		copy(h.events, h.events[1:])
		h.events = h.events[:historySize-1]
	}
	h.events = append(h.events, e)
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// Since returns the kept events at or after t, oldest first.
func (h *History) Since(t time.Time) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event
	for _, e := range h.events {
		if !e.Time.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

// Subscribe returns the events recorded from now on, and a function that
// ends the subscription.
func (h *History) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 256)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}
