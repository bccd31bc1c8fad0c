package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/bosun-sh/bosun/cmd/bosun/internal/termsafe"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
)

const rolloutStatusExample = `  bosun rollout status kube-apiserver
  bosun rollout status kube-system/etcd --watch=false`

// newRolloutCommand is "bosun rollout" and its one verb, status.
func newRolloutCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rollout",
		Short:   "Where a pod's latest manifest version stands (rollout status)",
		GroupID: groupPods,
		Args:    noArgs,
		RunE: runE(func(*cobra.Command, []string) error {
			return &usageError{"rollout needs a command: status"}
		}),
	}
	cmd.AddCommand(newRolloutStatusCommand())
	return cmd
}

func newRolloutStatusCommand() *cobra.Command {
	var (
		socket  *string
		watch   bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status POD",
		Short: "Wait for a pod's latest manifest version: exit 0 once it was Ready, 1 when it was rolled back or failed",
		Long: `Reports where a pod's latest manifest version stands: progressing (with the time left before
its bosun.dev/progress-deadline), complete (it was Ready), rolled back to the last Ready version
(with the reason), or failed (not Ready in time, and rollback not enabled or no earlier version
was Ready). With --watch (the default) it waits until the rollout is complete, rolled back or
failed. Exit code 0 when complete, 1 otherwise (as kubectl rollout status).`,
		Example:           rolloutStatusExample,
		Args:              exactArgs(1, "rollout status needs one POD (name, name-node or namespace/name)"),
		ValidArgsFunction: completePods(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runRolloutStatus(cmd.Context(), *socket, args[0], watch, timeout, cmd.OutOrStdout())
		}),
	}
	socket = apiSocketFlag(cmd.Flags())
	cmd.Flags().BoolVarP(&watch, "watch", "w", true, "wait until the rollout is complete, rolled back or failed")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --watch, give up after this long (0: never)")
	return cmd
}

// rolloutPoll is how often rollout status asks bosun again; tests shorten
// it.
var rolloutPoll = time.Second

func runRolloutStatus(ctx context.Context, socket, name string, watch bool, timeout time.Duration, stdout io.Writer) error {
	c, closeConn, err := dialAPI(ctx, socket)
	if err != nil {
		return err
	}
	defer closeConn()
	if watch && timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	tick := time.NewTicker(rolloutPoll)
	defer tick.Stop()
	last := ""
	for {
		p, err := c.GetPod(ctx, &bosunv1.GetPodRequest{Name: name})
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("rollout of %s: not over after --timeout %v", name, timeout)
		}
		if err != nil {
			return apiError(err)
		}
		state, done, ok := rolloutState(p)
		if state != last {
			fmt.Fprintln(stdout, termsafe.Line(state+timeLeft(p, now())))
			last = state
		}
		switch {
		case done && ok:
			return nil
		case done, !watch:
			return errSilent
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// rolloutLine says where the pod's rollout stands at at, whether it is
// over, and whether it ended well.
func rolloutLine(p *bosunv1.Pod, at time.Time) (line string, done, ok bool) {
	state, done, ok := rolloutState(p)
	return state + timeLeft(p, at), done, ok
}

// rolloutState says where the pod's rollout stands without the time left,
// so that it changes only when the rollout or a container's readiness
// does, whether it is over, and whether it ended well.
func rolloutState(p *bosunv1.Pod) (state string, done, ok bool) {
	key := p.GetNamespace() + "/" + p.GetName()
	r := p.GetRollout()
	switch r.GetPhase() {
	case "":
		return fmt.Sprintf("pod %s: bosun has not read its manifest yet", key), false, false
	case "Complete":
		return fmt.Sprintf("pod %s: version %s is Ready: rollout complete", key, r.GetFileHash()), true, true
	case "RolledBack":
		return fmt.Sprintf("pod %s: version %s rolled back to %s: %s: %s", key, r.GetFileHash(), r.GetLastReadyHash(), r.GetReason(), r.GetMessage()), true, false
	case "Failed":
		why := "rollback is not enabled (bosun.dev/rollback or --rollback-on-failure)"
		if r.GetLastReadyHash() == "" {
			why = "no earlier version was Ready"
		}
		return fmt.Sprintf("pod %s: version %s failed: %s: %s; it keeps running: %s", key, r.GetFileHash(), r.GetReason(), r.GetMessage(), why), true, false
	}
	switch {
	case r.GetStartedUnixNano() == 0 && r.GetRunningHash() != "" && r.GetRunningHash() != r.GetFileHash():
		return fmt.Sprintf("pod %s: waiting for version %s to start (the running version %s stops first)", key, r.GetFileHash(), r.GetRunningHash()), false, false
	case r.GetStartedUnixNano() == 0:
		return fmt.Sprintf("pod %s: waiting for version %s to start", key, r.GetFileHash()), false, false
	}
	ready, all := 0, 0
	for _, c := range p.GetContainers() {
		all++
		if c.GetReady() {
			ready++
		}
	}
	line := fmt.Sprintf("pod %s: waiting for version %s to be Ready: %d of %d containers ready", key, r.GetFileHash(), ready, all)
	if ready == all {
		line += fmt.Sprintf(" (a container without a readiness probe counts once it has run %v without a restart)", progressDeadline(r))
	}
	return line, false, false
}

// timeLeft is ", 2m10s left of 5m0s" for a version in its progress window,
// the time left rounded to seconds; "" otherwise.
func timeLeft(p *bosunv1.Pod, at time.Time) string {
	r := p.GetRollout()
	if r.GetPhase() != "Progressing" || r.GetStartedUnixNano() == 0 {
		return ""
	}
	left := max(time.Unix(0, r.GetDeadlineUnixNano()).Sub(at), 0).Round(time.Second)
	return fmt.Sprintf(", %v left of %v", left, progressDeadline(r))
}

// progressDeadline is the rollout's progress deadline.
func progressDeadline(r *bosunv1.Rollout) time.Duration {
	return time.Duration(r.GetProgressDeadlineSeconds() * float64(time.Second))
}

// rolloutDetails are inspect's lines about a pod's rollout: where it stands,
// and both versions' hashes while the running one is not the file's.
func rolloutDetails(p *bosunv1.Pod) [][2]string {
	r := p.GetRollout()
	if r == nil {
		return nil
	}
	state := r.GetPhase()
	if r.GetReason() != "" {
		state += " (" + r.GetReason() + "): " + r.GetMessage()
	}
	if r.GetPhase() == "Progressing" && r.GetDeadlineUnixNano() != 0 {
		state += ", deadline " + time.Unix(0, r.GetDeadlineUnixNano()).UTC().Format(time.RFC3339)
	}
	out := [][2]string{{"Rollout", state}}
	if r.GetFileHash() != r.GetRunningHash() {
		running := r.GetRunningHash()
		if r.GetPhase() == "RolledBack" {
			running += " (the last Ready version)"
		}
		out = append(out, [2]string{"File hash", r.GetFileHash()}, [2]string{"Running hash", running})
	}
	return out
}

// rolloutReason is ps's STATUS of a rolled back pod: RolledBack with why.
func rolloutReason(p *bosunv1.Pod, reason string) string {
	if r := p.GetRollout(); reason == "RolledBack" && r.GetReason() != "" {
		return reason + " (" + r.GetReason() + ")"
	}
	return reason
}
