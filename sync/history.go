package sync

import (
	stdsync "sync"
	"time"

	"github.com/bosun-sh/bosun/prober"
)

// EventType names what happened.
type EventType string

// The events bosun records.
const (
	EventPodCreated          EventType = "PodCreated"
	EventPodReplaced         EventType = "PodReplaced"
	EventPodRemoved          EventType = "PodRemoved"
	EventSandboxDied         EventType = "SandboxDied"
	EventPodCompleted        EventType = "PodCompleted"
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

// Bounds of the history kept for `bosun events`: the last historySize
// events within historyBytes, each with its text fields cut to
// MaxEventText bytes, so that what pods make bosun say (probe warnings,
// hook and sync errors) neither grows bosun nor breaks the API's replies.
const (
	historySize  = 1000
	historyBytes = 1 << 20
	// MaxEventText is the most bytes of an event's message, or of any other
	// of its text fields.
	MaxEventText = prober.MaxMessage
)

// History keeps the last events and fans new ones out to subscribers. A
// subscriber that does not keep up loses events rather than slowing bosun.
type History struct {
	mu     stdsync.Mutex
	events []Event
	bytes  int
	subs   map[chan Event]struct{}
}

// NewHistory returns an empty History.
func NewHistory() *History { return &History{subs: map[chan Event]struct{}{}} }

// bounded is e with each text field cut to MaxEventText bytes.
func bounded(e Event) Event {
	e.Pod, e.Container = prober.Truncate(e.Pod, MaxEventText), prober.Truncate(e.Container, MaxEventText)
	e.File, e.Message = prober.Truncate(e.File, MaxEventText), prober.Truncate(e.Message, MaxEventText)
	return e
}

// size is what an event counts against historyBytes.
func (e Event) size() int {
	return 64 + len(e.Type) + len(e.Pod) + len(e.Container) + len(e.File) + len(e.Message)
}

// Add records e, its text fields cut to MaxEventText bytes, dropping the
// oldest events beyond historySize or historyBytes.
func (h *History) Add(e Event) {
	e = bounded(e)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
	h.bytes += e.size()
	drop := 0
	for len(h.events)-drop > historySize || (h.bytes > historyBytes && drop < len(h.events)-1) {
		h.bytes -= h.events[drop].size()
		drop++
	}
	if drop > 0 {
		n := copy(h.events, h.events[drop:])
		clear(h.events[n:])
		h.events = h.events[:n]
	}
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
