// Package crilog reads container log files in the CRI log format that
// containerd writes: one "<RFC3339Nano time> <stdout|stderr> <P|F> <text>"
// per line, where P marks a partial line continued by the next entry.
package crilog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxLine is the most content one Entry holds, so that a Reader keeps at
// most about twice that per stream whatever the log holds: a line longer
// than MaxLine (joined from partial entries, or one physical line) comes in
// several entries of its stream, all but the last marked Partial, none
// longer than MaxLine.
const MaxLine = 64 << 10

// maxHeader is room for a physical line's time, stream and tag in the
// Reader's buffer, beyond MaxLine of content.
const maxHeader = 1 << 10

// Entry is one whole log line of a container, or a piece of one longer than
// MaxLine.
type Entry struct {
	Time    time.Time
	Stream  string
	Content []byte
	// Partial is set on a piece of a line longer than MaxLine: the line goes
	// on in the next entry of the same stream.
	Partial bool
}

// Reader yields whole lines, joining partial ones per stream, in pieces of
// at most MaxLine bytes.
type Reader struct {
	br  *bufio.Reader
	max int
	// partial holds the line still open on each stream.
	partial map[string]*Entry
	// open is the open line last added to, cut while it holds max bytes.
	open *Entry
	// ended is a line that ended, returned in pieces until it fits in one.
	ended *Entry
	// cont is the rest of a physical line longer than the buffer: the
	// chunks after its first carry no header of their own.
	cont *physical
	eof  bool
}

// physical is what the first chunk of a physical line said about it.
type physical struct {
	time   time.Time
	stream string
	tag    string
}

// NewReader reads CRI log lines from r.
func NewReader(r io.Reader) *Reader { return newReader(r, MaxLine) }

// newReader is NewReader with max in place of MaxLine (tests use small ones).
func newReader(r io.Reader, max int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, max+maxHeader), max: max, partial: map[string]*Entry{}}
}

// Next returns the next whole line, or the next piece of one longer than
// MaxLine, io.EOF at the end. A partial line still open at the end is
// returned as it is. Malformed lines are returned as stdout text, so
// nothing is lost.
func (r *Reader) Next() (Entry, error) {
	for {
		switch {
		case r.ended != nil && len(r.ended.Content) <= r.max:
			e := *r.ended
			r.ended = nil
			return e, nil
		case r.ended != nil:
			return r.cut(r.ended), nil
		case r.open != nil && len(r.open.Content) >= r.max:
			return r.cut(r.open), nil
		case r.eof:
			for s, p := range r.partial {
				delete(r.partial, s)
				r.ended = p
			}
			if r.ended == nil {
				return Entry{}, io.EOF
			}
			continue
		}
		chunk, more, err := r.readChunk()
		if errors.Is(err, io.EOF) {
			r.eof = true
			if len(chunk) == 0 {
				continue
			}
		} else if err != nil {
			return Entry{}, err
		}
		e, tag := r.entry(chunk, more)
		p := r.partial[e.Stream]
		if p == nil {
			p = &Entry{Time: e.Time, Stream: e.Stream}
		}
		p.Content = append(p.Content, e.Content...)
		r.open = nil
		if tag == "P" {
			r.partial[e.Stream], r.open = p, p
			continue
		}
		delete(r.partial, e.Stream)
		r.ended = p
	}
}

// cut returns the first max bytes of line p as a piece and keeps the rest.
func (r *Reader) cut(p *Entry) Entry {
	out := Entry{Time: p.Time, Stream: p.Stream, Content: p.Content[:r.max:r.max], Partial: true}
	p.Content = append([]byte(nil), p.Content[r.max:]...)
	return out
}

// readChunk reads the next physical line, or as much of it as the buffer
// holds (more is then set), without its line end.
func (r *Reader) readChunk() (chunk []byte, more bool, err error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return append([]byte(nil), line...), true, nil
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return append([]byte(nil), line...), false, err
}

// entry is the entry of one chunk and its tag: the first chunk of a
// physical line is parsed, the chunks that follow carry its stream and
// time; a chunk with more to come is tagged P.
func (r *Reader) entry(chunk []byte, more bool) (Entry, string) {
	var ph physical
	var content []byte
	if r.cont != nil {
		ph, content = *r.cont, chunk
	} else if e, tag, err := Parse(chunk); err == nil {
		ph, content = physical{time: e.Time, stream: e.Stream, tag: tag}, e.Content
	} else {
		ph, content = physical{stream: "stdout", tag: "F"}, chunk
	}
	r.cont = nil
	tag := ph.tag
	if more {
		r.cont, tag = &ph, "P"
	}
	return Entry{Time: ph.time, Stream: ph.stream, Content: content}, tag
}

// Parse splits one CRI log line into its entry and its tag (P or F).
func Parse(line []byte) (Entry, string, error) {
	fields := bytes.SplitN(line, []byte(" "), 4)
	if len(fields) < 3 {
		return Entry{}, "", fmt.Errorf("not a CRI log line: %q", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(fields[0]))
	if err != nil {
		return Entry{}, "", fmt.Errorf("not a CRI log line: %w", err)
	}
	stream := string(fields[1])
	if stream != "stdout" && stream != "stderr" {
		return Entry{}, "", fmt.Errorf("not a CRI log line: stream %q", stream)
	}
	tag := string(bytes.SplitN(fields[2], []byte(":"), 2)[0])
	var content []byte
	if len(fields) == 4 {
		content = fields[3]
	}
	return Entry{Time: t, Stream: stream, Content: content}, tag, nil
}
