package podlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bosun-sh/bosun/runtime/crilog"
)

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r     io.ReaderAt
	bytes int64
}

func (c *countingReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(b, off)
	c.bytes += int64(n)
	return n, err
}

// entries reads the lines of log from start, skipping skip, joining the
// pieces of lines longer than crilog.MaxLine.
func entries(t *testing.T, log []byte, start int64, skip int) []string {
	t.Helper()
	r := crilog.NewReader(bytes.NewReader(log[start:]))
	var out []string
	open := map[string]string{}
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		open[e.Stream] += string(e.Content)
		if e.Partial {
			continue
		}
		line := open[e.Stream]
		delete(open, e.Stream)
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, e.Stream+":"+line)
	}
}

func TestTailOfABigFileReadsOnlyItsEnd(t *testing.T) {
	var log bytes.Buffer
	for i := range 200000 {
		fmt.Fprintf(&log, "2026-11-27T12:00:00.%09dZ stdout F line %d of a log that is big enough\n", i, i)
	}
	for _, n := range []int{0, 1, 10, 100} {
		r := &countingReaderAt{r: bytes.NewReader(log.Bytes())}
		start, skip, err := Tail(r, int64(log.Len()), n)
		if err != nil {
			t.Fatal(err)
		}
		got := entries(t, log.Bytes(), start, skip)
		if len(got) != n || (n > 0 && got[n-1] != "stdout:line 199999 of a log that is big enough") {
			t.Errorf("tail %d: %d lines, last %q", n, len(got), got[max(len(got)-1, 0):])
		}
		// About 80 bytes a line: the lines and at most one chunk more.
		if limit := int64(n*80 + 2*chunk); r.bytes > limit {
			t.Errorf("tail %d read %d bytes of %d, want at most %d", n, r.bytes, log.Len(), limit)
		}
	}
}

func TestTailOfALongLineReadsItOnce(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	log := []byte("2026-11-27T12:00:00Z stdout F before\n2026-11-27T12:00:01Z stdout F " + long + "\n")
	r := &countingReaderAt{r: bytes.NewReader(log)}
	start, skip, err := Tail(r, int64(len(log)), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := entries(t, log, start, skip); len(got) != 1 || got[0] != "stdout:"+long {
		t.Errorf("tail 1 of a long line: %d lines", len(got))
	}
	if r.bytes > int64(len(log)) {
		t.Errorf("read %d bytes of %d: some twice", r.bytes, len(log))
	}
}

// TestTailMatchesReadingTheWholeFile compares Tail with reading the whole
// file on logs with partial lines of both streams interleaved, malformed
// lines and a last line still being written.
func TestTailMatchesReadingTheWholeFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		var log bytes.Buffer
		whole := 0 // whole lines, but for the one being written
		open := map[string]bool{}
		for i := range 1 + rng.IntN(40) {
			stream := []string{"stdout", "stderr"}[rng.IntN(2)]
			switch k := rng.IntN(10); {
			case k < 4:
				fmt.Fprintf(&log, "2026-11-27T12:00:00Z %s P part%d-\n", stream, i)
				open[stream] = true
			case k == 4:
				fmt.Fprintf(&log, "not a CRI line %d\n", i)
				whole++
			default:
				fmt.Fprintf(&log, "2026-11-27T12:00:00Z %s F end%d\n", stream, i)
				open[stream] = false
				whole++
			}
		}
		// Every stream's last line whole, as containerd leaves them between writes.
		for _, s := range []string{"stdout", "stderr"} {
			if open[s] {
				fmt.Fprintf(&log, "2026-11-27T12:00:00Z %s F closed\n", s)
				whole++
			}
		}
		if rng.IntN(3) == 0 {
			log.WriteString("2026-11-27T12:00:00Z stdout F being writ")
		}
		all := entries(t, log.Bytes(), 0, 0)
		for n := range whole + 2 {
			start, skip, err := Tail(bytes.NewReader(log.Bytes()), int64(log.Len()), n)
			if err != nil {
				t.Fatal(err)
			}
			want := all[max(whole-n, 0):]
			if got := entries(t, log.Bytes(), start, skip); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("round %d, tail %d of\n%s\ngot  %q\nwant %q", round, n, log.String(), got, want)
			}
		}
	}
}

func TestTailOfNothing(t *testing.T) {
	for _, log := range []string{"", "2026-11-27T12:00:00Z stdout F no newline yet"} {
		start, skip, err := Tail(strings.NewReader(log), int64(len(log)), 5)
		if err != nil || start != 0 || skip != 0 {
			t.Errorf("Tail(%q) = %d, %d, %v", log, start, skip, err)
		}
	}
	if start, _, _ := Tail(strings.NewReader("a\nb\n"), 4, -1); start != 0 {
		t.Errorf("tail -1 starts at %d", start)
	}
}
