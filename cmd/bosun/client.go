package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/util/duration"

	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
)

const defaultAPISocket = "/run/bosun/bosun.sock"

// now is the CLI's clock; tests replace it.
var now = time.Now

func apiSocketFlag(fs *pflag.FlagSet) *string {
	return fs.String("api-socket", defaultAPISocket, "bosun's API socket")
}

// apiTarget is the gRPC target of bosun's API: passthrough, so that grpc
// never parses the socket's path as a URL; unixDialer reaches the socket.
const apiTarget = "passthrough:///localhost"

// unixDialer dials the unix socket at path, as given: a relative path is
// relative to the working directory, and no character of it is special.
func unixDialer(path string) func(context.Context, string) (net.Conn, error) {
	return func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
}

// dialAPI connects to a running bosun. The error names the socket and says
// what to check: a missing socket and a stale one (left by a bosun that was
// killed: connection refused) both mean that bosun is not running.
func dialAPI(ctx context.Context, socket string) (bosunv1.BosunClient, func(), error) {
	probe, err := net.DialTimeout("unix", socket, 5*time.Second)
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
		return nil, nil, fmt.Errorf("bosun is not running (no server at %s)", socket)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach bosun at %s: %w", socket, err)
	}
	probe.Close()
	conn, err := grpc.NewClient(apiTarget, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(unixDialer(socket)))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach bosun at %s: %w", socket, err)
	}
	c := bosunv1.NewBosunClient(conn)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.GetInfo(cctx, &bosunv1.GetInfoRequest{}, grpc.WaitForReady(false)); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("cannot reach bosun at %s: %s (is `bosun run` running?)", socket, status.Convert(err).Message())
	}
	return c, func() { conn.Close() }, nil
}

// getPod asks the bosun at socket for one pod.
func getPod(ctx context.Context, socket, name string) (*bosunv1.Pod, error) {
	c, closeConn, err := dialAPI(ctx, socket)
	if err != nil {
		return nil, err
	}
	defer closeConn()
	p, err := c.GetPod(ctx, &bosunv1.GetPodRequest{Name: name})
	return p, apiError(err)
}

// apiError turns a gRPC error into the server's message.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(status.Convert(err).Message())
}

// since is the age of a time as kubectl prints it (45s, 3m12s, 5h30m, 3d4h).
func since(unixNano int64) string {
	if unixNano == 0 {
		return "<unknown>"
	}
	return duration.HumanDuration(now().Sub(time.Unix(0, unixNano)))
}
