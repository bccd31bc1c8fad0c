package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bosun-sh/bosun/cmd/bosun/internal/termsafe"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/runtime/crilog"
)

const waitExample = `  bosun wait --all --for=ready --timeout 2m
  bosun wait etcd kube-apiserver --for=running
  bosun wait kube-system/old-pod --for=deleted --timeout 30s`

// waitPoll is how often wait asks bosun again; tests shorten it.
var waitPoll = time.Second

const (
	waitEvents  = 10 // events shown per pod that misses the condition
	waitLogTail = 20 // log lines shown per pod that misses the condition
)

// waitMiss is one pod (or rejected manifest) that does not meet the
// condition yet.
type waitMiss struct {
	name string       // as given on the command line, or namespace/name
	pod  *bosunv1.Pod // nil when there is no such pod
	why  string       // the whole report of a miss without a pod
}

// waitOptions are the flags of bosun wait.
type waitOptions struct {
	socket  *string
	all     bool
	cond    string
	timeout time.Duration
}

func newWaitCommand() *cobra.Command {
	var o waitOptions
	cmd := &cobra.Command{
		Use:   "wait POD...|--all --for=ready|running|deleted [--timeout 2m]",
		Short: "Wait for pods; on timeout print why and exit 1",
		Long: `wait returns as soon as the condition holds for each POD (or, with --all, every pod of the
manifests, and for ready and running no rejected manifest). At --timeout it exits 1 and prints, for
each pod that misses the condition, its status, containers, last events and log lines.`,
		Example:           waitExample,
		GroupID:           groupPods,
		ValidArgsFunction: completePods(0),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runWait(cmd.Context(), o, args, cmd.OutOrStdout())
		}),
	}
	o.socket = apiSocketFlag(cmd.Flags())
	cmd.Flags().BoolVar(&o.all, "all", false, "every pod of the manifest directory; for ready and running, no manifest may be rejected either")
	cmd.Flags().StringVar(&o.cond, "for", "", "the condition: ready (every container ready), running (every container running) or deleted (the pod is gone)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long and exit 1")
	_ = cmd.RegisterFlagCompletionFunc("for", cobra.FixedCompletions([]string{"ready", "running", "deleted"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runWait(ctx context.Context, o waitOptions, names []string, stdout io.Writer) error {
	switch o.cond {
	case "ready", "running", "deleted":
	default:
		return &usageError{fmt.Sprintf("--for must be ready, running or deleted, not %q", o.cond)}
	}
	if o.all == (len(names) > 0) {
		return &usageError{"wait needs POD names or --all (not both)"}
	}
	if o.timeout <= 0 {
		return &usageError{"--timeout must be positive"}
	}
	c, closeConn, err := dialAPI(ctx, *o.socket)
	if err != nil {
		return err
	}
	defer closeConn()
	wctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var misses []waitMiss // of the last answer
	var lastErr error
poll:
	for {
		held, m, err := checkWait(wctx, c, names, o.all, o.cond)
		var u *usageError
		switch {
		case errors.As(err, &u):
			return err
		case err == nil && len(m) == 0:
			for _, name := range held {
				fmt.Fprintf(stdout, "pod %s is %s\n", termsafe.Line(name), o.cond)
			}
			return nil
		case err == nil:
			misses, lastErr = m, nil
		case status.Code(err) == codes.DeadlineExceeded || status.Code(err) == codes.Canceled:
			// the wait's end, seen by the call
		default:
			lastErr = apiError(err)
		}
		select {
		case <-wctx.Done():
			break poll
		case <-time.After(waitPoll):
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if lastErr != nil || misses == nil {
		if lastErr == nil {
			lastErr = errors.New("no answer from bosun")
		}
		return fmt.Errorf("timed out after %s waiting for pods to be %s: %w", o.timeout, o.cond, lastErr)
	}
	// The report gets its own time: the wait's deadline has passed.
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	writeWaitReport(rctx, stdout, c, misses, o.cond)
	return fmt.Errorf("timed out after %s: %d not %s", o.timeout, len(misses), o.cond)
}

// checkWait returns the pods that meet cond and those that do not, or the
// API's error as it came. Nothing
// holds before bosun's first sync, since until then it does not know the
// pods of its manifests.
func checkWait(ctx context.Context, c bosunv1.BosunClient, names []string, all bool, cond string) (held []string, misses []waitMiss, err error) {
	info, err := c.GetInfo(ctx, &bosunv1.GetInfoRequest{})
	if err != nil {
		return nil, nil, err
	}
	if !info.GetReady() {
		return nil, []waitMiss{{name: "bosun", why: "bosun is not ready: its first sync is not done or the runtime does not answer"}}, nil
	}
	if all {
		resp, err := c.ListPods(ctx, &bosunv1.ListPodsRequest{})
		if err != nil {
			return nil, nil, err
		}
		for _, p := range resp.GetPods() {
			key := p.GetNamespace() + "/" + p.GetName()
			switch {
			case cond == "deleted":
				misses = append(misses, waitMiss{name: key, pod: p})
			case p.GetPhase() == "Terminating":
				// its manifest is gone: not a pod of the manifests
			case podHolds(p, cond):
				held = append(held, key)
			default:
				misses = append(misses, waitMiss{name: key, pod: p})
			}
		}
		if cond != "deleted" {
			for _, m := range resp.GetManifestErrors() {
				misses = append(misses, waitMiss{name: m.GetFile(), why: fmt.Sprintf("manifest %s is rejected: %s", m.GetFile(), m.GetError())})
			}
		}
		return held, misses, nil
	}
	for _, name := range names {
		p, err := c.GetPod(ctx, &bosunv1.GetPodRequest{Name: name})
		switch code := status.Code(err); {
		case code == codes.NotFound && cond == "deleted":
			held = append(held, name)
		case code == codes.NotFound:
			misses = append(misses, waitMiss{name: name, why: fmt.Sprintf("pod %s is not %s: not found (bosun ps lists the pods)", name, cond)})
		case code == codes.InvalidArgument:
			return nil, nil, &usageError{apiError(err).Error()}
		case err != nil:
			return nil, nil, err
		case cond != "deleted" && podHolds(p, cond):
			held = append(held, p.GetNamespace()+"/"+p.GetName())
		default:
			misses = append(misses, waitMiss{name: p.GetNamespace() + "/" + p.GetName(), pod: p})
		}
	}
	return held, misses, nil
}

// podHolds reports whether a pod is ready or running: its phase is Running
// and every container is ready (running) or has completed with exit code 0,
// as init containers do. A pod that is being replaced reports the new
// version, so it holds only once the new version does.
func podHolds(p *bosunv1.Pod, cond string) bool {
	if p.GetPhase() != "Running" || len(p.GetContainers()) == 0 {
		return false
	}
	for _, c := range p.GetContainers() {
		if !containerHolds(c, cond) {
			return false
		}
	}
	return true
}

func containerHolds(c *bosunv1.Container, cond string) bool {
	if c.GetState() == "Terminated" && c.GetExitCode() == 0 {
		return true
	}
	if cond == "ready" {
		return c.GetReady()
	}
	return c.GetState() == "Running"
}

// failingContainer is the container whose log explains a miss: the first
// one that misses cond and has terminated, else the last started.
func failingContainer(p *bosunv1.Pod, cond string) *bosunv1.Container {
	var last *bosunv1.Container
	for _, c := range p.GetContainers() {
		if !containerHolds(c, cond) && (c.GetLastTermination() != nil || c.GetState() == "Terminated") {
			return c
		}
		if last == nil || c.GetStartedUnixNano() > last.GetStartedUnixNano() {
			last = c
		}
	}
	return last
}

// writeWaitReport prints, for each miss, what a CI log needs: the pod's
// state, its containers, its last events and the tail of the log of its
// failing container.
func writeWaitReport(ctx context.Context, w io.Writer, c bosunv1.BosunClient, misses []waitMiss, cond string) {
	events := map[string][]*bosunv1.Event{}
	if stream, err := c.WatchEvents(ctx, &bosunv1.WatchEventsRequest{}); err == nil {
		for {
			e, err := stream.Recv()
			if err != nil {
				break
			}
			events[e.GetPod()] = append(events[e.GetPod()], e)
		}
	}
	for _, m := range misses {
		if m.pod == nil {
			fmt.Fprintln(w, termsafe.Block(m.why))
			continue
		}
		p := m.pod
		fmt.Fprintf(w, "pod %s is not %s: %s (phase %s)\n", termsafe.Line(m.name), cond, termsafe.Line(p.GetReason()), termsafe.Line(p.GetPhase()))
		if e := p.GetSyncError(); e != "" {
			fmt.Fprintf(w, "  sync error: %s\n", termsafe.Line(e))
		}
		for _, ct := range p.GetContainers() {
			fmt.Fprintf(w, "  container %s: %s\n", termsafe.Line(ct.GetName()), termsafe.Line(containerLine(ct)))
		}
		if es := events[m.name]; len(es) > 0 {
			fmt.Fprintln(w, "  events:")
			for _, e := range es[max(0, len(es)-waitEvents):] {
				fmt.Fprintf(w, "    %s  %s  %s  %s\n", eventTime(e), termsafe.Line(e.GetType()), termsafe.Line(dash(e.GetContainer())), termsafe.Line(e.GetMessage()))
			}
		}
		if cond == "deleted" {
			continue
		}
		if ct := failingContainer(p, cond); ct != nil {
			fmt.Fprintf(w, "  log of container %s (last %d lines):\n", termsafe.Line(ct.GetName()), waitLogTail)
			if err := tailLog(w, ct, "    "); err != nil {
				fmt.Fprintf(w, "    (%s)\n", termsafe.Line(err.Error()))
			}
		}
	}
}

func containerLine(c *bosunv1.Container) string {
	s := c.GetState()
	if c.GetReason() != "" {
		s += " (" + c.GetReason() + ")"
	}
	if c.GetMessage() != "" {
		s += ": " + c.GetMessage()
	}
	if c.GetState() == "Terminated" {
		s += fmt.Sprintf(", exit code %d", c.GetExitCode())
	}
	s += fmt.Sprintf(", ready %t, restarts %d", c.GetReady(), c.GetRestartCount())
	if t := c.GetLastTermination(); t != nil {
		s += fmt.Sprintf(", last exit code %d", t.GetExitCode())
		if t.GetReason() != "" {
			s += " (" + t.GetReason() + ")"
		}
	}
	for _, pr := range c.GetProbes() {
		if !pr.GetSuccess() {
			s += fmt.Sprintf(", %s probe failing (%d in a row): %s", pr.GetKind(), pr.GetConsecutiveFailures(), pr.GetMessage())
		}
	}
	return s
}

// tailLog writes the last lines of a container's log, indented: the current
// instance's, or the previous one's while the current has not started.
func tailLog(w io.Writer, c *bosunv1.Container, indent string) error {
	path := c.GetLogPath()
	if path == "" {
		return errors.New("no log yet")
	}
	f, skip, err := openLogTail(path, waitLogTail)
	if errors.Is(err, os.ErrNotExist) && c.GetRestartCount() > 0 {
		f, skip, err = openLogTail(previousLogPath(c), waitLogTail)
	}
	if err != nil {
		return fmt.Errorf("log of container %s: %w", c.GetName(), err)
	}
	defer f.Close()
	return copyLog(&indentWriter{w: w, indent: indent}, crilog.NewReader(f), skip, false, time.Time{})
}

// indentWriter prefixes each line written to w, and escapes what a
// terminal would obey (termsafe.Block): a log tail in wait's report is text
// a container wrote, shown within bosun's own.
type indentWriter struct {
	w      io.Writer
	indent string
	mid    bool
}

func (iw *indentWriter) Write(b []byte) (int, error) {
	var sb strings.Builder
	for _, r := range termsafe.Block(string(b)) {
		if !iw.mid {
			sb.WriteString(iw.indent)
		}
		sb.WriteRune(r)
		iw.mid = r != '\n'
	}
	if _, err := io.WriteString(iw.w, sb.String()); err != nil {
		return 0, err
	}
	return len(b), nil
}
