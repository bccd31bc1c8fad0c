package crilog

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader checks that no input panics or loops the reader, that every
// entry it returns is of a known stream, that it invents no content (the
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
		r := NewReader(bytes.NewReader(data))
		lines := bytes.Count(data, []byte("\n")) + 1
		content := 0
		for n := 0; ; n++ {
			if n > lines {
				t.Fatalf("%d entries from %d lines", n, lines)
			}
			e, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("entry %d: %v", n, err)
			}
			if e.Stream != "stdout" && e.Stream != "stderr" {
				t.Fatalf("entry %d: stream %q", n, e.Stream)
			}
			content += len(e.Content)
		}
		if content > len(data) {
			t.Fatalf("%d bytes of content from %d bytes of input", content, len(data))
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
