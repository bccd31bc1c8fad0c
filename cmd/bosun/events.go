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

const eventsExample = `  bosun events --since 10m
  bosun events -f`

func newEventsCommand() *cobra.Command {
	var (
		socket    *string
		follow    bool
		sinceFlag time.Duration
	)
	cmd := &cobra.Command{
		Use:     "events [flags]",
		Short:   "What bosun did and saw",
		Example: eventsExample,
		GroupID: groupPods,
		Args:    noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return runEvents(cmd.Context(), *socket, follow, sinceFlag, cmd.OutOrStdout())
		}),
	}
	socket = apiSocketFlag(cmd.Flags())
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "print new events as they happen")
	cmd.Flags().DurationVar(&sinceFlag, "since", 0, "only events of this last duration, such as 10m (default: all kept, up to 1000)")
	return cmd
}

func runEvents(ctx context.Context, socket string, follow bool, sinceFlag time.Duration, stdout io.Writer) error {
	c, closeConn, err := dialAPI(ctx, socket)
	if err != nil {
		return err
	}
	defer closeConn()
	req := &bosunv1.WatchEventsRequest{Follow: follow}
	if sinceFlag > 0 {
		req.SinceUnixNano = now().Add(-sinceFlag).UnixNano()
	}
	stream, err := c.WatchEvents(ctx, req)
	if err != nil {
		return apiError(err)
	}
	const row = "%-24s  %-28s  %-32s  %-12s  %s\n"
	fmt.Fprintf(stdout, row, "TIME", "TYPE", "POD", "CONTAINER", "MESSAGE")
	for {
		e, err := stream.Recv()
		if errors.Is(err, io.EOF) || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return apiError(err)
		}
		pod := e.GetPod()
		if pod == "" {
			pod = e.GetFile()
		}
		fmt.Fprintf(stdout, row, eventTime(e), termsafe.Line(e.GetType()), termsafe.Line(dash(pod)), termsafe.Line(dash(e.GetContainer())), termsafe.Line(e.GetMessage()))
	}
}

// eventTime is an event's time as events and wait print it: UTC, to the
// millisecond.
func eventTime(e *bosunv1.Event) string {
	return time.Unix(0, e.GetTimeUnixNano()).UTC().Format("2006-01-02T15:04:05.000Z")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
