package criproxy

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeRuntime serves Version, RunPodSandbox and a GetContainerEvents stream
// that sends one event and then waits.
type fakeRuntime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	sandboxes atomic.Int32
	replied   chan struct{} // closed by the test's hook
}

func (f *fakeRuntime) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{RuntimeName: "fake", RuntimeApiVersion: "v1"}, nil
}

func (f *fakeRuntime) RunPodSandbox(_ context.Context, r *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	f.sandboxes.Add(1)
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: "sb-" + r.Config.Metadata.Name}, nil
}

func (f *fakeRuntime) GetContainerEvents(_ *runtimeapi.GetEventsRequest, s runtimeapi.RuntimeService_GetContainerEventsServer) error {
	if err := s.Send(&runtimeapi.ContainerEventResponse{ContainerId: "c1"}); err != nil {
		return err
	}
	<-s.Context().Done()
	return nil
}

func setUp(t *testing.T) (*Proxy, *fakeRuntime, runtimeapi.RuntimeServiceClient) {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, "runtime.sock"))
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeRuntime{}
	srv := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(srv, fake)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	p, err := Start(filepath.Join(dir, "proxy.sock"), filepath.Join(dir, "runtime.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	conn, err := grpc.NewClient(p.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return p, fake, runtimeapi.NewRuntimeServiceClient(conn)
}

func run(ctx context.Context, c runtimeapi.RuntimeServiceClient, name string) (string, error) {
	r, err := c.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: name}}})
	return r.GetPodSandboxId(), err
}

func TestForwardsAndCounts(t *testing.T) {
	p, fake, c := setUp(t)
	mark := p.Mark()
	if v, err := c.Version(t.Context(), &runtimeapi.VersionRequest{}); err != nil || v.RuntimeName != "fake" {
		t.Fatalf("Version through the proxy: %v %v", v, err)
	}
	if id, err := run(t.Context(), c, "a"); err != nil || id != "sb-a" {
		t.Fatalf("RunPodSandbox through the proxy: %q %v", id, err)
	}
	if got := p.Since(mark, true); len(got) != 1 || got["RunPodSandbox"] != 1 {
		t.Errorf("mutating calls %v, want one RunPodSandbox", got)
	}
	if p.Count("Version") != 1 || fake.sandboxes.Load() != 1 {
		t.Errorf("counts: Version %d, sandboxes in the runtime %d", p.Count("Version"), fake.sandboxes.Load())
	}
}

func TestFailDoesNotForward(t *testing.T) {
	p, fake, c := setUp(t)
	p.Fail("RunPodSandbox", 2, codes.Internal)
	for i := 0; i < 2; i++ {
		if _, err := run(t.Context(), c, "a"); status.Code(err) != codes.Internal {
			t.Fatalf("call %d: %v, want Internal", i, err)
		}
	}
	if _, err := run(t.Context(), c, "a"); err != nil {
		t.Fatalf("the third call: %v, want it forwarded", err)
	}
	if n := fake.sandboxes.Load(); n != 1 {
		t.Errorf("the runtime saw %d calls, want 1", n)
	}
}

func TestFailAfterForwardReachesTheRuntime(t *testing.T) {
	p, fake, c := setUp(t)
	p.FailAfterForward("RunPodSandbox", 1, codes.DeadlineExceeded)
	if _, err := run(t.Context(), c, "a"); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	if n := fake.sandboxes.Load(); n != 1 {
		t.Errorf("the runtime saw %d calls, want 1", n)
	}
}

func TestDelayPastTheCallersDeadlineStillForwards(t *testing.T) {
	p, fake, c := setUp(t)
	p.Delay("RunPodSandbox", 1, time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := run(ctx, c, "a"); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for fake.sandboxes.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := fake.sandboxes.Load(); n != 1 {
		t.Errorf("the runtime saw %d calls, want 1", n)
	}
	p.Clear()
}

func TestOnReplyRunsBeforeTheReply(t *testing.T) {
	p, fake, c := setUp(t)
	var sawCall atomic.Bool
	p.OnReply("RunPodSandbox", func() { sawCall.Store(fake.sandboxes.Load() == 1) })
	if _, err := run(t.Context(), c, "a"); err != nil {
		t.Fatal(err)
	}
	if !sawCall.Load() {
		t.Error("the hook did not run after the runtime handled the call")
	}
}

func TestUnavailableForAWhile(t *testing.T) {
	p, _, c := setUp(t)
	p.Unavailable(time.Hour)
	if _, err := c.Version(t.Context(), &runtimeapi.VersionRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
	p.Clear()
	if _, err := c.Version(t.Context(), &runtimeapi.VersionRequest{}); err != nil {
		t.Fatalf("after Clear: %v", err)
	}
}

func TestStreamsPassAndDropConnectionsBreaksThem(t *testing.T) {
	p, _, c := setUp(t)
	s, err := c.GetContainerEvents(t.Context(), &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.Recv()
	if err != nil || ev.ContainerId != "c1" {
		t.Fatalf("first event: %v %v", ev, err)
	}
	p.DropConnections()
	if _, err := s.Recv(); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("after DropConnections the stream gave %v, want a broken connection", err)
	}
	// The client reconnects to the same socket.
	if _, err := c.Version(t.Context(), &runtimeapi.VersionRequest{}); err != nil {
		t.Fatalf("after a drop: %v", err)
	}
}
