package crilog

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader checks that no input panics or loops the reader (with
// MaxLine and with a tiny bound), that every entry it returns is of a known
// stream and at most the bound long, that it invents no content (the
// entries hold at most the bytes of the input), and that a line Parse
// accepts parses again, to the same entry, once written back in the CRI
// format. The seed corpus is in testdata/fuzz/FuzzReader.
func FuzzReader(f *testing.F) {
	for _, seed := range []string{
		"2026-01-01T00:00:00.000000001Z stdout F hello\n",
		"2026-01-01T00:00:01Z stdout P a very \n2026-01-01T00:00:02Z stdout F long line\n",
		"2026-01-01T00:00:01Z stderr P unterminated",
		"garbage without format\n\n",
		"2026-01-01T00:00:01+02:00 stdout F:extra tag\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, max := range []int{MaxLine, 7} {
			readAll(t, newReader(bytes.NewReader(data), max), data, max)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			e, tag, err := Parse(line)
			if err != nil {
				continue
			}
			again := append([]byte(e.Time.Format("2006-01-02T15:04:05.999999999Z07:00")+" "+e.Stream+" "+tag+" "), e.Content...)
			e2, tag2, err := Parse(again)
			if err != nil || !e2.Time.Equal(e.Time) || e2.Stream != e.Stream || tag2 != tag || !bytes.Equal(e2.Content, e.Content) {
				t.Fatalf("%q parsed as %v %q %q, written back as %q: %v %q %q, %v", line, e.Time, e.Stream, tag, again, e2.Time, tag2, e2.Content, err)
			}
		}
	})
}

// readAll reads r to its end and checks its entries: at most one per line
// of data and one per max bytes of it, of a known stream, none longer than
// max, and no more content than data holds.
func readAll(t *testing.T, r *Reader, data []byte, max int) {
	t.Helper()
	limit := bytes.Count(data, []byte("\n")) + 1 + len(data)/max
	content := 0
	for n := 0; ; n++ {
		if n > limit {
			t.Fatalf("max %d: %d entries from %d bytes", max, n, len(data))
		}
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("max %d: entry %d: %v", max, n, err)
		}
		if e.Stream != "stdout" && e.Stream != "stderr" {
			t.Fatalf("max %d: entry %d: stream %q", max, n, e.Stream)
		}
		if len(e.Content) > max {
			t.Fatalf("max %d: entry %d holds %d bytes", max, n, len(e.Content))
		}
		content += len(e.Content)
	}
	if content > len(data) {
		t.Fatalf("max %d: %d bytes of content from %d bytes of input", max, content, len(data))
	}
}
