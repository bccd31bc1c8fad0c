package main

import (
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/runtime/crilog"
)

func TestLogsPrintsALineLongerThanTheReadersBoundWholeAndStampedOnce(t *testing.T) {
	long := strings.Repeat("y", crilog.MaxLine+crilog.MaxLine/2)
	var in strings.Builder
	in.WriteString("2026-01-01T00:00:00Z stdout F skipped\n")
	for i := 0; i < len(long); i += 16 << 10 {
		in.WriteString("2026-01-01T00:00:01Z stdout P " + long[i:min(i+16<<10, len(long))] + "\n")
		in.WriteString("2026-01-01T00:00:01Z stderr F between\n")
	}
	in.WriteString("2026-01-01T00:00:02Z stdout F !\n")
	var out strings.Builder
	if err := copyLog(&out, crilog.NewReader(strings.NewReader(in.String())), 1, true, time.Time{}); err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(out.String(), "2026-01-01T00:00:01Z between\n", "")
	if want := "2026-01-01T00:00:01Z " + long + "!\n"; got != want {
		t.Errorf("got %d bytes %.80q..., want %d bytes %.80q...", len(got), got, len(want), want)
	}
}
