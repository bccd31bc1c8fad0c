package crilog

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReaderJoinsPartialLines(t *testing.T) {
	in := strings.Join([]string{
		"2026-01-01T00:00:00.000000001Z stdout F hello",
		"2026-01-01T00:00:01Z stdout P a very ",
		"2026-01-01T00:00:01Z stderr F oops",
		"2026-01-01T00:00:02Z stdout P long ",
		"2026-01-01T00:00:03Z stdout F line",
		"2026-01-01T00:00:04Z stdout F ",
		"garbage without format",
		"2026-01-01T00:00:05Z stderr P unterminated",
	}, "\n") + "\n"
	r := NewReader(strings.NewReader(in))
	var got []string
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Stream+":"+string(e.Content)+"@"+e.Time.Format("05"))
	}
	want := []string{"stdout:hello@00", "stderr:oops@01", "stdout:a very long line@01", "stdout:@04",
		"stdout:garbage without format@00", "stderr:unterminated@05"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
