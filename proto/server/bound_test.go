package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/sync"
)

// hostilePods are n pods whose every text field a container, a hook or the
// runtime may fill holds text of size bytes.
func hostilePods(n, size int) []sync.PodStatus {
	text := strings.Repeat("\x1b[2J€", size/6)
	var out []sync.PodStatus
	for i := range n {
		p := sync.PodStatus{Namespace: "default", Name: fmt.Sprintf("p%d-n1", i), Phase: "Running", Reason: "Running", SyncError: text, ManifestError: text}
		for _, name := range []string{"a", "b"} {
			p.Containers = append(p.Containers, sync.ContainerStatus{Name: name, State: "Running", Message: text,
				LastTermination: &sync.Termination{Reason: "Error", Message: text},
				Probes:          []sync.ProbeResult{{Kind: "readiness", Message: text}, {Kind: "liveness", Message: text}}})
		}
		out = append(out, p)
	}
	return out
}

// client serves s on a unix socket and returns a client with gRPC's
// default limits, as the CLI's.
func client(t *testing.T, s *Server) bosunv1.BosunClient {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "bosun.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = Serve(ctx, l, s)
	}()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		<-done
	})
	return bosunv1.NewBosunClient(conn)
}

func TestTheAPIsRepliesFitWhateverPodsSay(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pods      int
		fieldSize int
	}{
		{"a few pods with 1 MB in every field", 3, 1 << 20},
		{"400 pods with 8 KiB in every field", 400, 8 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := fakeState{pods: hostilePods(tc.pods, tc.fieldSize), manifests: []sync.ManifestStatus{{File: "/m/x.yaml", Error: strings.Repeat("e", tc.fieldSize)}}}
			c := client(t, New(st, &bosunv1.Info{Node: "n1"}))
			resp, err := c.ListPods(ctx, &bosunv1.ListPodsRequest{})
			if err != nil {
				t.Fatalf("ps: %v", err)
			}
			if len(resp.GetPods()) != tc.pods || resp.GetPods()[0].GetContainers()[1].GetProbes()[1].GetMessage() == "" {
				t.Errorf("ps: %d pods, want %d with their messages cut, not dropped", len(resp.GetPods()), tc.pods)
			}
			for _, p := range resp.GetPods() {
				for _, ct := range p.GetContainers() {
					if len(ct.GetMessage()) > maxField || len(ct.GetLastTermination().GetMessage()) > maxField {
						t.Fatalf("ps: a %d-byte message", len(ct.GetMessage()))
					}
				}
			}
			p, err := c.GetPod(ctx, &bosunv1.GetPodRequest{Name: "p0"})
			if err != nil || len(p.GetSyncError()) > maxField || !strings.HasPrefix(p.GetContainers()[0].GetMessage(), "\x1b[2J€") {
				t.Errorf("inspect: %v; want the pod, its fields cut", err)
			}
		})
	}
}

func TestEventsWithHugeMessagesStillStream(t *testing.T) {
	h := sync.NewHistory()
	huge := strings.Repeat("x", 5<<20)
	for i := range 3 {
		h.Add(sync.Event{Time: time.Unix(int64(1_800_000_000+i), 0), Type: sync.EventProbeWarning, Pod: "default/p-n1", Message: huge})
	}
	c := client(t, New(fakeState{history: h}, &bosunv1.Info{Node: "n1"}))
	stream, err := c.WatchEvents(context.Background(), &bosunv1.WatchEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		e, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("events: %v", err)
		}
		if len(e.GetMessage()) > maxField {
			t.Errorf("events: a %d-byte message", len(e.GetMessage()))
		}
		n++
	}
	if n != 3 {
		t.Errorf("events: got %d, want 3", n)
	}
}

func TestOnlyAFewClientsMayFollowTheEventsAtOnce(t *testing.T) {
	c := client(t, New(fakeState{history: sync.NewHistory()}, &bosunv1.Info{Node: "n1"}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range maxWatchers + 1 {
		stream, err := c.WatchEvents(ctx, &bosunv1.WatchEventsRequest{Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		if i < maxWatchers {
			if _, err := stream.Header(); err != nil {
				t.Fatalf("follower %d: %v", i+1, err)
			}
			continue
		}
		// The stream is set up when the server answers: the last one is refused.
		if _, err := stream.Recv(); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("follower %d: %v, want ResourceExhausted", i+1, err)
		}
	}
}

// A container may write any bytes into its termination message or a probe
// answer: protobuf refuses to send a string that is not UTF-8, which would
// fail ps, inspect and events for every pod.
func TestTextThatIsNotUTF8StillReachesTheClient(t *testing.T) {
	ctx := context.Background()
	bad := "ok\xff\xfe\x80end"
	pods := hostilePods(1, 12)
	pods[0].Containers[0].LastTermination.Message = bad
	pods[0].Containers[1].Probes[0].Message = bad
	h := sync.NewHistory()
	h.Add(sync.Event{Time: time.Unix(1_800_000_000, 0), Type: sync.EventContainerExited, Pod: "default/p0-n1", Message: bad})
	c := client(t, New(fakeState{pods: pods, history: h, manifests: []sync.ManifestStatus{{File: "/m/x.yaml", Error: bad}}}, &bosunv1.Info{Node: "n1"}))
	resp, err := c.ListPods(ctx, &bosunv1.ListPodsRequest{})
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	if got := resp.GetPods()[0].GetContainers()[0].GetLastTermination().GetMessage(); got != "ok\uFFFDend" {
		t.Errorf("ps: termination message %q, want the invalid bytes replaced", got)
	}
	if _, err := c.GetPod(ctx, &bosunv1.GetPodRequest{Name: "p0"}); err != nil {
		t.Errorf("inspect: %v", err)
	}
	stream, err := c.WatchEvents(ctx, &bosunv1.WatchEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := stream.Recv(); err != nil || e.GetMessage() != "ok\uFFFDend" {
		t.Errorf("events: %q, %v", e.GetMessage(), err)
	}
}
