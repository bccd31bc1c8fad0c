package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bosun-sh/bosun/cmd/bosun/internal/termsafe"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
)

const inspectExample = `  bosun inspect etcd
  bosun inspect kube-system/kube-apiserver-cp1 -o yaml`

func newInspectCommand() *cobra.Command {
	var socket, output *string
	cmd := &cobra.Command{
		Use:               "inspect POD",
		Short:             "Everything bosun knows about one pod (name, name-node or namespace/name)",
		Example:           inspectExample,
		GroupID:           groupPods,
		Args:              exactArgs(1, "inspect needs one POD (name, name-node or namespace/name)"),
		ValidArgsFunction: completePods(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd.Context(), *socket, args[0], *output, cmd.OutOrStdout())
		}),
	}
	socket = apiSocketFlag(cmd.Flags())
	output = outputFlag(cmd, "output: json or yaml (default: text)", "json", "yaml")
	return cmd
}

func runInspect(ctx context.Context, socket, pod, output string, stdout io.Writer) error {
	if output != "" && output != "json" && output != "yaml" {
		return &usageError{fmt.Sprintf("--output must be json or yaml, not %q", output)}
	}
	p, err := getPod(ctx, socket, pod)
	if err != nil {
		return err
	}
	if output != "" {
		return writeMessage(stdout, p, output)
	}
	writePod(stdout, p)
	return nil
}

// unixNanoSuffix ends the name of every time field of the API: an int64
// of Unix nanoseconds, which protojson writes as a string.
const unixNanoSuffix = "_unix_nano"

// readableTimes rewrites a message decoded from protojson (with UseNumber)
// for people, as kubectl prints times: each time field x_unix_nano becomes
// x, an RFC 3339 time in UTC with its fraction of a second where it has
// one. A field that is not a number is left as it is.
func readableTimes(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if name, ok := strings.CutSuffix(k, unixNanoSuffix); ok {
				if t, ok := unixNanoTime(x); ok {
					out[name] = t
					continue
				}
			}
			out[k] = readableTimes(x)
		}
		return out
	case []any:
		for i := range v {
			v[i] = readableTimes(v[i])
		}
	}
	return v
}

// unixNanoTime is x, Unix nanoseconds as protojson writes them (a string,
// or a number), as an RFC 3339 time in UTC.
func unixNanoTime(x any) (string, bool) {
	var s string
	switch x := x.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	default:
		return "", false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", false
	}
	return time.Unix(0, n).UTC().Format(time.RFC3339Nano), true
}

func timeOf(unixNano int64) string {
	if unixNano == 0 {
		return "-"
	}
	return time.Unix(0, unixNano).UTC().Format(time.RFC3339) + " (" + since(unixNano) + " ago)"
}

func writePod(w io.Writer, p *bosunv1.Pod) {
	kv := func(indent, k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s%-16s %s\n", indent, k+":", termsafe.Line(v))
		}
	}
	kv("", "Name", p.GetName())
	kv("", "Namespace", p.GetNamespace())
	kv("", "Manifest", p.GetFile())
	kv("", "UID", p.GetUid())
	kv("", "Hash", p.GetHash())
	kv("", "Status", fmt.Sprintf("%s (phase %s)", p.GetReason(), p.GetPhase()))
	for _, l := range rolloutDetails(p) {
		kv("", l[0], l[1])
	}
	ip := p.GetIp()
	if p.GetHostNetwork() {
		ip += " (host network)"
	}
	kv("", "IP", ip)
	kv("", "Sandbox", fmt.Sprintf("%s attempt %d", p.GetSandboxId(), p.GetAttempt()))
	kv("", "Created", timeOf(p.GetCreatedUnixNano()))
	kv("", "Sync error", p.GetSyncError())
	kv("", "Mirror pod", p.GetMirrorPod())
	if e := p.GetManifestError(); e != "" {
		fmt.Fprintf(w, "%-16s %s\n", "Manifest error:", strings.ReplaceAll(termsafe.Block(e), "\n", "\n"+strings.Repeat(" ", 17)))
		fmt.Fprintf(w, "%17s(the pod runs from the last good version of its manifest)\n", "")
	}
	fmt.Fprintln(w, "Containers:")
	for _, c := range p.GetContainers() {
		fmt.Fprintf(w, "  %s:\n", termsafe.Line(c.GetName()))
		kv("    ", "Image", c.GetImage())
		kv("    ", "ID", c.GetId())
		state := c.GetState()
		if c.GetReason() != "" {
			state += " (" + c.GetReason() + ")"
		}
		kv("    ", "State", state)
		kv("    ", "Message", c.GetMessage())
		if c.GetState() == "Terminated" {
			kv("    ", "Exit code", fmt.Sprint(c.GetExitCode()))
			kv("    ", "Finished", timeOf(c.GetFinishedUnixNano()))
		}
		if c.GetStartedUnixNano() != 0 {
			kv("    ", "Started", timeOf(c.GetStartedUnixNano()))
		}
		kv("    ", "Ready", fmt.Sprint(c.GetReady()))
		kv("    ", "Restarts", fmt.Sprint(c.GetRestartCount()))
		if b := c.GetBackoffUntilUnixNano(); b != 0 {
			kv("    ", "Back-off until", time.Unix(0, b).UTC().Format(time.RFC3339))
		}
		if t := c.GetLastTermination(); t != nil {
			last := fmt.Sprintf("exit code %d", t.GetExitCode())
			if t.GetReason() != "" {
				last += ", " + t.GetReason()
			}
			last += ", finished " + timeOf(t.GetFinishedUnixNano())
			kv("    ", "Last state", last)
		}
		for _, pr := range c.GetProbes() {
			res := "success"
			if !pr.GetSuccess() {
				res = fmt.Sprintf("failure (%d in a row): %s", pr.GetConsecutiveFailures(), pr.GetMessage())
			}
			kv("    ", "Probe "+pr.GetKind(), res)
		}
		kv("    ", "Log", c.GetLogPath())
	}
}
