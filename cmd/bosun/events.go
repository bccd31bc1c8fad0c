package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
)

const eventsExample = `bosun events --since 10m
  bosun events -f`

func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	socket := apiSocketFlag(fs)
	follow := fs.Bool("f", false, "follow: print new events as they happen")
	sinceFlag := fs.Duration("since", 0, "only events of this last duration (default: all kept, up to 1000)")
	if help, err := parseFlags(fs, args, stdout, stderr, eventsExample); help || err != nil {
		return err
	}
	c, closeConn, err := dialAPI(ctx, *socket)
	if err != nil {
		return err
	}
	defer closeConn()
	req := &bosunv1.WatchEventsRequest{Follow: *follow}
	if *sinceFlag > 0 {
		req.SinceUnixNano = now().Add(-*sinceFlag).UnixNano()
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
		fmt.Fprintf(stdout, row, time.Unix(0, e.GetTimeUnixNano()).UTC().Format("2006-01-02T15:04:05.000Z"),
			e.GetType(), dash(pod), dash(e.GetContainer()), e.GetMessage())
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
