package podlog

import (
	"bytes"
	"errors"
	"io"

	"github.com/bosun-sh/bosun/runtime/crilog"
)

// chunk is how much Tail reads at a time, backwards from the end.
const chunk = 8 << 10

// Tail finds where to start reading a CRI log of size bytes to get its last
// n whole lines: a crilog.Reader reading from start yields skip lines first
// (older ones, possibly cut) and then the last n whole lines in order, then
// whatever follows (a line still being written). A whole line may span
// several physical lines (partial "P" entries of its stream, which may be
// interleaved with the other stream's); Tail goes back far enough that
// none of the n lines is cut. It reads O(bytes of those lines) from the end
// of r, never the whole file; n < 0 means every line (start 0).
func Tail(r io.ReaderAt, size int64, n int) (start int64, skip int, err error) {
	if n < 0 {
		return 0, 0, nil
	}
	lines := &reverseLines{r: r, bufStart: size}
	start = size
	counted := 0
	// open holds the streams whose earliest line from start on may continue
	// a partial line that began before start.
	open := map[string]bool{}
	var extra []int64 // starts of whole lines met after the n-th
	for first := true; ; first = false {
		line, off, err := lines.prev()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		if first && !bytes.HasSuffix(line, []byte("\n")) {
			start = off // being written: after the n lines, whatever they are
			continue
		}
		stream, whole := classify(line)
		if counted < n {
			start = off
			if whole {
				counted++
			}
			if stream != "" {
				open[stream] = true
			}
			continue
		}
		if len(open) == 0 {
			break
		}
		if whole {
			extra = append(extra, off)
		}
		if open[stream] {
			if whole {
				delete(open, stream) // the stream's partial line starts after this one
			} else {
				start = off
			}
		}
	}
	for _, off := range extra {
		if off >= start {
			skip++
		}
	}
	return start, skip, nil
}

// classify returns the stream of a CRI log line and whether it ends a whole
// line (tag F, or a malformed line, which crilog yields as it is, alone).
func classify(line []byte) (stream string, whole bool) {
	e, tag, err := crilog.Parse(bytes.TrimSuffix(line, []byte("\n")))
	if err != nil {
		return "", true
	}
	return e.Stream, tag != "P"
}

// reverseLines yields the lines of r backwards from bufStart.
type reverseLines struct {
	r        io.ReaderAt
	buf      []byte // r from bufStart on, not yet yielded
	bufStart int64
}

// prev returns the line before the ones already returned (with its "\n",
// but for the last line of a file that does not end with one) and its
// offset; io.EOF at the start of r.
func (b *reverseLines) prev() ([]byte, int64, error) {
	for {
		if len(b.buf) > 0 {
			i := bytes.LastIndexByte(b.buf[:len(b.buf)-1], '\n')
			if i >= 0 || b.bufStart == 0 {
				line, off := b.buf[i+1:], b.bufStart+int64(i+1)
				b.buf = b.buf[:i+1]
				return line, off, nil
			}
		} else if b.bufStart == 0 {
			return nil, 0, io.EOF
		}
		// Read the chunk before, or as much as is buffered (a long line):
		// each byte is read once, and a long line is found in O(log) reads.
		n := min(int64(max(chunk, len(b.buf))), b.bufStart)
		nb := make([]byte, n+int64(len(b.buf)))
		if _, err := b.r.ReadAt(nb[:n], b.bufStart-n); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		copy(nb[n:], b.buf)
		b.buf, b.bufStart = nb, b.bufStart-n
	}
}
