package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/runtime/crilog"
)

const logsExample = `bosun logs etcd
  bosun logs kube-apiserver -c kube-apiserver --tail 50 -f
  bosun logs crashy --previous`

func runLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	socket := apiSocketFlag(fs)
	container := fs.String("c", "", "container (default: the pod's only container)")
	follow := fs.Bool("f", false, "follow the log as it grows")
	previous := fs.Bool("previous", false, "the log of the previous instance of the container")
	tail := fs.Int("tail", -1, "only the last N lines")
	timestamps := fs.Bool("timestamps", false, "prefix each line with its time")
	if help, err := parseFlags(fs, interleave(args), stdout, stderr, logsExample); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{"logs needs one POD"}
	}
	p, err := getPod(ctx, *socket, fs.Arg(0))
	if err != nil {
		return err
	}
	cs, err := pickContainer(p, *container)
	if err != nil {
		return err
	}
	path := cs.GetLogPath()
	if path == "" {
		return fmt.Errorf("container %s of pod %s has no log yet", cs.GetName(), p.GetName())
	}
	if *previous {
		if cs.GetRestartCount() == 0 {
			return fmt.Errorf("container %s of pod %s has no previous instance", cs.GetName(), p.GetName())
		}
		path = previousLogPath(cs)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("log of container %s: %w", cs.GetName(), err)
	}
	defer f.Close()
	if err := copyLog(stdout, crilog.NewReader(f), *tail, *timestamps); err != nil || !*follow {
		return err
	}
	fr := &followReader{ctx: ctx, f: f, path: path}
	defer func() { fr.f.Close() }()
	return copyLog(stdout, crilog.NewReader(fr), -1, *timestamps)
}

// interleave moves flags after the pod name to the front, so that
// "bosun logs POD -f" works as with kubectl (logs and wait use it).
func interleave(args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			return append(flags, rest...)
		case strings.HasPrefix(a, "-"):
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if (name == "c" || name == "tail" || name == "api-socket" || name == "for" || name == "timeout") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			rest = append(rest, a)
		}
	}
	return append(flags, rest...)
}

func pickContainer(p *bosunv1.Pod, name string) (*bosunv1.Container, error) {
	var names []string
	for _, c := range p.GetContainers() {
		if c.GetName() == name || (name == "" && len(p.GetContainers()) == 1) {
			return c, nil
		}
		names = append(names, c.GetName())
	}
	if name == "" {
		return nil, &usageError{fmt.Sprintf("pod %s has several containers: choose one with -c (%s)", p.GetName(), strings.Join(names, ", "))}
	}
	return nil, fmt.Errorf("pod %s has no container %q (it has %s)", p.GetName(), name, strings.Join(names, ", "))
}

// copyLog writes the lines of r until its end, only the last tail of them
// when tail >= 0.
func copyLog(w io.Writer, r *crilog.Reader, tail int, timestamps bool) error {
	write := func(e crilog.Entry) error {
		if timestamps {
			if _, err := fmt.Fprintf(w, "%s ", e.Time.UTC().Format(time.RFC3339Nano)); err != nil {
				return err
			}
		}
		_, err := fmt.Fprintf(w, "%s\n", e.Content)
		return err
	}
	var ring []crilog.Entry
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if tail < 0 {
			if err := write(e); err != nil {
				return err
			}
			continue
		}
		ring = append(ring, e)
		if len(ring) > tail {
			ring = ring[1:]
		}
	}
	for _, e := range ring {
		if err := write(e); err != nil {
			return err
		}
	}
	return nil
}

// followReader reads a log file and, at its end, waits for more, reopening
// the path when the file was rotated, until ctx ends.
type followReader struct {
	ctx  context.Context
	f    *os.File
	path string
}

func (r *followReader) Read(b []byte) (int, error) {
	for {
		n, err := r.f.Read(b)
		if n > 0 || !errors.Is(err, io.EOF) {
			return n, err
		}
		if cur, err1 := r.f.Stat(); err1 == nil {
			if onDisk, err2 := os.Stat(r.path); err2 == nil && !os.SameFile(cur, onDisk) {
				if nf, err3 := os.Open(r.path); err3 == nil {
					r.f.Close()
					r.f = nf
					continue
				}
			}
		}
		select {
		case <-r.ctx.Done():
			return 0, io.EOF
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// previousLogPath is the log file of the instance before a container's
// current one (restart count - 1), beside the current log; the caller makes
// sure there was one.
func previousLogPath(c *bosunv1.Container) string {
	return filepath.Join(filepath.Dir(c.GetLogPath()), strconv.FormatUint(uint64(c.GetRestartCount()-1), 10)+".log")
}
