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

// lines joins the pieces a Reader returns into whole lines, each as
// stream:content, and fails the test on a piece longer than max.
func lines(t *testing.T, r *Reader, max int) []string {
	t.Helper()
	var got []string
	open := map[string]string{}
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Content) > max {
			t.Fatalf("an entry of %d bytes, over the bound of %d", len(e.Content), max)
		}
		open[e.Stream] += string(e.Content)
		if !e.Partial {
			got = append(got, e.Stream+":"+open[e.Stream])
			delete(open, e.Stream)
		}
	}
}

func TestReaderReturnsALineLongerThanItsBoundInPiecesThatJoinToTheLine(t *testing.T) {
	long := strings.Repeat("0123456789", 10)
	in := strings.Join([]string{
		"2026-01-01T00:00:01Z stdout P " + long,
		"2026-01-01T00:00:01Z stderr F short",
		"2026-01-01T00:00:02Z stdout P " + long,
		"2026-01-01T00:00:03Z stdout F end",
		"2026-01-01T00:00:04Z stderr F " + long + long, // one physical line
		"2026-01-01T00:00:05Z stdout P " + long,        // open at the end
	}, "\n") + "\n"
	want := []string{"stderr:short", "stdout:" + long + long + "end", "stderr:" + long + long, "stdout:" + long}
	for _, max := range []int{1, 7, 64, 100, 1000, MaxLine} {
		got := lines(t, newReader(strings.NewReader(in), max), max)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("bound %d: got  %q\nwant %q", max, got, want)
		}
	}
}

func TestReaderKeepsAtMostTwiceItsBoundOfAnEndlessLine(t *testing.T) {
	// 64 MiB of partial entries, never ended: the Reader returns them in
	// pieces as they come and never holds the line whole.
	entry := "2026-01-01T00:00:01Z stdout P " + strings.Repeat("x", 16<<10) + "\n"
	r := NewReader(io.LimitReader(&repeat{s: entry}, 64<<20))
	total := 0
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Content) > MaxLine || cap(e.Content) > 2*MaxLine+maxHeader {
			t.Fatalf("an entry of %d bytes (capacity %d)", len(e.Content), cap(e.Content))
		}
		for _, p := range r.partial {
			if cap(p.Content) > 2*MaxLine+2*maxHeader {
				t.Fatalf("the open line holds %d bytes", cap(p.Content))
			}
		}
		total += len(e.Content)
	}
	if total == 0 {
		t.Fatal("no content read")
	}
}

// repeat reads s over and over.
type repeat struct {
	s   string
	off int
}

func (r *repeat) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}
