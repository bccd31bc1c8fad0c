package main

import (
	"bytes"
	"strings"
	"testing"

	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
)

func TestInspectOutputPrintsTimesInRFC3339WithTheirNanoseconds(t *testing.T) {
	p := &bosunv1.Pod{Name: "etcd-cp1", CreatedUnixNano: 1796663780646593356,
		Containers: []*bosunv1.Container{{Name: "etcd", StartedUnixNano: 1796663780000000000, RestartCount: 3}},
		Rollout:    &bosunv1.Rollout{DeadlineUnixNano: 1796663790500000000}}
	for format, want := range map[string][]string{
		"yaml": {`created: "2026-12-07T17:16:20.646593356Z"`, `started: "2026-12-07T17:16:20Z"`, `deadline: "2026-12-07T17:16:30.5Z"`, "restart_count: 3"},
		"json": {`"created": "2026-12-07T17:16:20.646593356Z"`, `"started": "2026-12-07T17:16:20Z"`, `"deadline": "2026-12-07T17:16:30.5Z"`, `"restart_count": 3`},
	} {
		var b bytes.Buffer
		if err := writeMessage(&b, p, format); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("-o %s lacks %s:\n%s", format, w, out)
			}
		}
		if strings.Contains(out, "unix_nano") || strings.Contains(out, "1796663780") {
			t.Errorf("-o %s still prints Unix nanoseconds:\n%s", format, out)
		}
	}
}

func TestReadableTimesLeavesAFieldThatIsNotANumber(t *testing.T) {
	got := readableTimes(map[string]any{"note_unix_nano": "soon", "list": []any{map[string]any{"last_unix_nano": "0"}}})
	m := got.(map[string]any)
	if m["note_unix_nano"] != "soon" {
		t.Errorf("a text field was rewritten: %v", m)
	}
	if l := m["list"].([]any)[0].(map[string]any); l["last"] != "1970-01-01T00:00:00Z" {
		t.Errorf("a time in a list: %v", l)
	}
}
