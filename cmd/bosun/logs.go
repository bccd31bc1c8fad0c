package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/runtime/crilog"
)

const logsExample = `  bosun logs etcd
  bosun logs kube-apiserver -c kube-apiserver --tail 50 -f
  bosun logs crashy --previous`

// logsOptions are the flags of bosun logs, named as kubectl logs names them.
type logsOptions struct {
	socket     *string
	container  string
	follow     bool
	previous   bool
	since      time.Duration
	tail       int
	timestamps bool
}

func newLogsCommand() *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:               "logs POD [flags]",
		Short:             "A container's log",
		Example:           logsExample,
		GroupID:           groupPods,
		Args:              exactArgs(1, "logs needs one POD"),
		ValidArgsFunction: completePods(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd.Context(), o, args[0], cmd.OutOrStdout())
		}),
	}
	o.socket = apiSocketFlag(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVarP(&o.container, "container", "c", "", "container (default: the pod's only container)")
	fs.BoolVarP(&o.follow, "follow", "f", false, "follow the log as it grows, across rotations")
	fs.BoolVarP(&o.previous, "previous", "p", false, "the log of the previous instance of the container")
	fs.DurationVar(&o.since, "since", 0, "only lines of this last duration, such as 5s, 2m or 3h (default: all)")
	fs.IntVar(&o.tail, "tail", -1, "only the last N lines of the current file (-1: all)")
	fs.BoolVar(&o.timestamps, "timestamps", false, "prefix each line with its time (RFC 3339)")
	_ = cmd.RegisterFlagCompletionFunc("container", completeContainers)
	return cmd
}

func runLogs(ctx context.Context, o logsOptions, pod string, stdout io.Writer) error {
	p, err := getPod(ctx, *o.socket, pod)
	if err != nil {
		return err
	}
	cs, err := pickContainer(p, o.container)
	if err != nil {
		return err
	}
	path := cs.GetLogPath()
	if path == "" {
		return fmt.Errorf("container %s of pod %s has no log yet", cs.GetName(), p.GetName())
	}
	if o.previous {
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
	var from time.Time
	if o.since > 0 {
		from = now().Add(-o.since)
	}
	if err := copyLog(stdout, crilog.NewReader(f), o.tail, o.timestamps, from); err != nil || !o.follow {
		return err
	}
	fr := &followReader{ctx: ctx, f: f, path: path}
	defer func() { fr.f.Close() }()
	return copyLog(stdout, crilog.NewReader(fr), -1, o.timestamps, from)
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
// when tail >= 0, and only those of from or later.
func copyLog(w io.Writer, r *crilog.Reader, tail int, timestamps bool, from time.Time) error {
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
		if e.Time.Before(from) {
			continue
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
