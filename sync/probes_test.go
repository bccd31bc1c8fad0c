package sync

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/runtime"
)

func TestProbeHost(t *testing.T) {
	l := &Loop{cfg: Config{Node: runtime.Node{HostIP: "192.0.2.1"}}}
	noIP := &Loop{}
	for _, tc := range []struct {
		l           *Loop
		hostNetwork bool
		podIP, want string
	}{
		{l, true, "", "192.0.2.1"},
		{l, true, "10.88.0.5", "192.0.2.1"},
		{l, false, "10.88.0.5", "10.88.0.5"},
		{l, false, "", "192.0.2.1"},
		{noIP, true, "", "127.0.0.1"},
	} {
		if got := tc.l.probeHost(tc.hostNetwork, tc.podIP); got != tc.want {
			t.Errorf("node IP %q, hostNetwork %v, pod IP %q: %q, want %q", tc.l.cfg.Node.HostIP, tc.hostNetwork, tc.podIP, got, tc.want)
		}
	}
}

// A hostNetwork pod's probe without host goes to the node IP, as the
// kubelet's: here 127.0.0.2, where the only server listens.
func TestHostNetworkProbeGoesToTheNodeIP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) })}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	y := strings.Replace(podYAML("p", "Always", "x", "main"), "spec:\n", "spec:\n  hostNetwork: true\n", 1) + `    readinessProbe:
      httpGet: {path: /ready, port: ` + strconv.Itoa(port) + `}
      periodSeconds: 1
`
	h := newHarness(t, load(t, "/m/p.yaml", y))
	h.loop.cfg.Node.HostIP = "127.0.0.2"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.loop.SyncOnce(ctx)
	h.loop.Wait()
	h.loop.SyncOnce(ctx) // starts the probe worker of the running container
	eventually(t, func() bool {
		h.tick(time.Second)
		return hits.Load() > 0
	})
}

func TestExecProbeKillsAfterFailureThreshold(t *testing.T) {
	y := podYAML("p", "Always", "x", "main") + `    livenessProbe:
      exec: {command: ["check"]}
      periodSeconds: 1
      failureThreshold: 2
`
	h := newHarness(t, load(t, "/m/p.yaml", y))
	h.rt.execResult = map[string]int32{"main": 1}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.loop.SyncOnce(ctx)
	h.loop.Wait()
	first := h.mustRun("p-node1/main")
	h.loop.SyncOnce(ctx) // starts the probe worker of the running container
	h.rt.mutations()
	// The prober only publishes the failure: the loop's next sync kills.
	eventually(t, func() bool {
		h.tick(time.Second)
		_, failed := h.loop.probes.Failed(first.Id)
		return failed
	})
	if got := slices.DeleteFunc(h.rt.mutations(), func(c string) bool { return c == "ExecSync" }); len(got) > 0 {
		t.Fatalf("the prober acted on its own: %v", got)
	}
	h.loop.SyncOnce(ctx)
	h.loop.Wait()
	if got, want := h.rt.mutations(), []string{"StopContainer"}; !slices.Equal(got, want) {
		t.Errorf("calls after the liveness failure %v, want %v", got, want)
	}
	if _, ok := h.rt.running()["p-node1/main"]; ok {
		t.Error("the container still runs after its liveness probe failed")
	}
	h.sync() // restarted at once: the first restart has no backoff
	if c := h.mustRun("p-node1/main"); c.Metadata.Attempt != 1 {
		t.Errorf("restarted container has attempt %d, want 1", c.Metadata.Attempt)
	}
	if got := h.eventTypes(); !contains(got, "ContainerKilled") {
		t.Errorf("events %v, want ContainerKilled", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// eventually polls cond until it holds, failing the test after 10 s. It
// asserts no timing: it only waits for goroutines (probe workers) to act.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		<-poll.C
	}
}

// tick moves the fake clock on by d once a goroutine (a probe worker) waits
// on it; it does nothing when none waits yet.
func (h *harness) tick(d time.Duration) {
	if h.clock.HasWaiters() {
		h.clock.Step(d)
	}
}
