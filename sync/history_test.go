package sync

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestTheHistoryKeepsEventsBoundedInSizeAndCount(t *testing.T) {
	h := NewHistory()
	huge := "readiness probe: " + strings.Repeat("é", 9<<20/2)
	start := time.Unix(1_800_000_000, 0)
	for i := range 3000 {
		h.Add(Event{Time: start.Add(time.Duration(i)), Type: EventProbeWarning, Pod: "default/p", Container: "c", Message: huge})
	}
	kept := h.Since(time.Time{})
	total := 0
	for _, e := range kept {
		if len(e.Message) > MaxEventText || !utf8.ValidString(e.Message) || !strings.HasPrefix(e.Message, "readiness probe: éé") {
			t.Fatalf("kept a %d-byte message %.80q, want at most %d bytes of valid text", len(e.Message), e.Message, MaxEventText)
		}
		total += e.size()
	}
	if len(kept) == 0 || len(kept) > historySize || total > historyBytes {
		t.Errorf("kept %d events of %d bytes, want at most %d events and %d bytes", len(kept), total, historySize, historyBytes)
	}
	if last := kept[len(kept)-1]; !last.Time.Equal(start.Add(2999)) {
		t.Errorf("the last event kept is from %v, want the newest", last.Time)
	}
	// A small event still fits, and the count bound holds for small ones.
	for range 3000 {
		h.Add(Event{Type: EventPodCreated, Pod: "default/p"})
	}
	if n := len(h.Since(time.Time{})); n != historySize {
		t.Errorf("kept %d small events, want %d", n, historySize)
	}
}
