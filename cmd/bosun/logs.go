package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bosun-sh/bosun/cmd/bosun/internal/podlog"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/runtime"
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
	f, skip, err := openLogTail(path, o.tail)
	if err != nil {
		return fmt.Errorf("log of container %s: %w", cs.GetName(), err)
	}
	var from time.Time
	if o.since > 0 {
		from = now().Add(-o.since)
	}
	var r io.ReadCloser = f
	if o.follow {
		r = podlog.Follow(ctx, f, path)
	}
	defer r.Close()
	return copyLog(stdout, crilog.NewReader(r), skip, o.timestamps, from)
}

// openLogTail opens a log file at the start of its last n whole lines
// (n < 0: at its start), without reading the rest; the caller skips the
// first skip lines read.
func openLogTail(path string, n int) (f *os.File, skip int, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	var start int64
	if err == nil {
		start, skip, err = podlog.Tail(f, fi.Size(), n)
	}
	if err == nil {
		_, err = f.Seek(start, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return f, skip, nil
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

// copyLog writes the lines of r until its end but for the first skip, and
// only those of from or later. A line longer than crilog.MaxLine comes in
// pieces, written as they come: it is never held whole.
func copyLog(w io.Writer, r *crilog.Reader, skip int, timestamps bool, from time.Time) error {
	midLine := map[string]bool{} // streams whose line has been begun
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		begun := midLine[e.Stream]
		midLine[e.Stream] = e.Partial
		if skip > 0 {
			if !e.Partial {
				skip--
			}
			continue
		}
		if e.Time.Before(from) {
			continue
		}
		if timestamps && !begun {
			if _, err := fmt.Fprintf(w, "%s ", e.Time.UTC().Format(time.RFC3339Nano)); err != nil {
				return err
			}
		}
		end := "\n"
		if e.Partial {
			end = ""
		}
		if _, err := fmt.Fprintf(w, "%s%s", e.Content, end); err != nil {
			return err
		}
	}
}

// previousLogPath is the log file of the instance before a container's
// current one (restart count - 1), beside the current log; the caller makes
// sure there was one.
func previousLogPath(c *bosunv1.Container) string {
	podLogDir := filepath.Dir(filepath.Dir(c.GetLogPath()))
	return filepath.Join(podLogDir, runtime.ContainerLogPath(c.GetName(), c.GetRestartCount()-1))
}
