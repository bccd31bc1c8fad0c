// Package crilog reads container log files in the CRI log format that
// containerd writes: one "<RFC3339Nano time> <stdout|stderr> <P|F> <text>"
// per line, where P marks a partial line continued by the next entry.
package crilog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"time"
)

// Entry is one whole log line of a container.
type Entry struct {
	Time    time.Time
	Stream  string
	Content []byte
}

// Reader yields whole lines, joining partial ones per stream.
type Reader struct {
	sc      *bufio.Scanner
	partial map[string]*Entry
}

// NewReader reads CRI log lines from r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	return &Reader{sc: sc, partial: map[string]*Entry{}}
}

// Next returns the next whole line, io.EOF at the end. A partial line still
// open at the end is returned as it is. Malformed lines are returned whole as
// stdout text, so nothing is lost.
func (r *Reader) Next() (Entry, error) {
	for r.sc.Scan() {
		e, tag, err := Parse(r.sc.Bytes())
		if err != nil {
			return Entry{Stream: "stdout", Content: append([]byte(nil), r.sc.Bytes()...)}, nil
		}
		if p := r.partial[e.Stream]; p != nil {
			p.Content = append(p.Content, e.Content...)
			e.Time, e.Content = p.Time, p.Content
		}
		if tag == "P" {
			if r.partial[e.Stream] == nil {
				r.partial[e.Stream] = &Entry{Time: e.Time, Stream: e.Stream, Content: append([]byte(nil), e.Content...)}
			}
			continue
		}
		delete(r.partial, e.Stream)
		e.Content = append([]byte(nil), e.Content...)
		return e, nil
	}
	if err := r.sc.Err(); err != nil {
		return Entry{}, err
	}
	for s, p := range r.partial {
		delete(r.partial, s)
		return *p, nil
	}
	return Entry{}, io.EOF
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
