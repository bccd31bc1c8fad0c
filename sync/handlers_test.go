package sync

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bosun-sh/bosun/runtime"
)

func TestHTTPCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/ok" && r.URL.RawQuery == "verbose=1" && r.Header.Get("X-Probe") == "yes" && r.Host == "cp.example":
			w.WriteHeader(http.StatusOK)
		case r.URL.Path == "/moved":
			w.WriteHeader(http.StatusFound)
		default:
			http.Error(w, "sick", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	target := handlerTarget{host: "127.0.0.1", ports: []corev1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
	get := func(path string, p intstr.IntOrString) error {
		_, err := httpCheck(context.Background(), &corev1.HTTPGetAction{Path: path, Port: p, Scheme: corev1.URISchemeHTTP,
			HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}, {Name: "Host", Value: "cp.example"}}}, target, time.Second)
		return err
	}
	if err := get("/ok?verbose=1", intstr.FromString("web")); err != nil {
		t.Errorf("named port, query and headers: %v", err)
	}
	if err := get("/moved", intstr.FromInt32(int32(port))); err != nil {
		t.Errorf("3xx is success: %v", err)
	}
	if err := get("/bad", intstr.FromInt32(int32(port))); err == nil || !strings.Contains(err.Error(), "statuscode: 500") {
		t.Errorf("500: %v", err)
	}
	if err := get("/ok", intstr.FromString("nope")); err == nil || !strings.Contains(err.Error(), `no container port named "nope"`) {
		t.Errorf("unknown port name: %v", err)
	}
	if err := tcpCheck(context.Background(), &corev1.TCPSocketAction{Port: intstr.FromString("web")}, target, time.Second); err != nil {
		t.Errorf("tcp: %v", err)
	}
}

// serve starts an HTTP server on addr (a loopback address) and returns its
// port and the number of requests it has had.
func serve(t *testing.T, addr string, h http.HandlerFunc) (int, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1); h(w, r) }))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return l.Addr().(*net.TCPAddr).Port, &n
}

func TestHTTPCheckFollowsRedirectsOnlyToTheSameHost(t *testing.T) {
	otherPort, other := serve(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "sick", http.StatusInternalServerError)
	})
	port, self := serve(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same-host":
			http.Redirect(w, r, "http://127.0.0.1:"+strconv.Itoa(otherPort)+"/", http.StatusFound)
		case "/other-host":
			http.Redirect(w, r, "http://localhost:"+strconv.Itoa(otherPort)+"/", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/big-failure":
			http.Error(w, strings.Repeat("x", 20<<10), http.StatusServiceUnavailable)
		}
	})
	target := handlerTarget{host: "127.0.0.1"}
	get := func(path string) (string, error) {
		return httpCheck(context.Background(), &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt(port)}, target, 5*time.Second)
	}

	// A redirect to the same host (another port) is followed: its answer counts.
	if w, err := get("/same-host"); err == nil || !strings.Contains(err.Error(), "statuscode: 500") || w != "" || other.Load() != 1 {
		t.Errorf("redirect to the same host: %q, %v, %d requests there; want the 500 of its target", w, err, other.Load())
	}
	// A redirect to another host is not followed: success with a warning.
	w, err := get("/other-host")
	if err != nil || !strings.Contains(w, "redirect that is not followed (302 to http://localhost:") || !strings.Contains(w, "localhost:"+strconv.Itoa(otherPort)) {
		t.Errorf("redirect to another host: %q, %v; want success with a warning", w, err)
	}
	if other.Load() != 1 {
		t.Errorf("the other host got %d requests, want it not asked", other.Load()-1)
	}
	// At most 10 redirects are followed.
	before := self.Load()
	if _, err := get("/loop"); err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("redirect loop: %v", err)
	}
	if n := self.Load() - before; n != 10 {
		t.Errorf("redirect loop: %d requests, want 10 (the first and 9 redirects)", n)
	}
	// A failure quotes only the first bytes of its body.
	if _, err := get("/big-failure"); err == nil || len(err.Error()) > maxQuotedBody+100 || !strings.Contains(err.Error(), "statuscode: 503") {
		t.Errorf("a failure with a 20 KiB body: %d bytes of message: %.300v", len(err.Error()), err)
	}
}

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
	port, hits := serve(t, "127.0.0.2:0", func(w http.ResponseWriter, r *http.Request) {})
	y := strings.Replace(podYAML("p", "Always", "x", "main"), "spec:\n", "spec:\n  hostNetwork: true\n", 1) + `    readinessProbe:
      httpGet: {path: /ready, port: ` + strconv.Itoa(port) + `}
      periodSeconds: 1
`
	h := newHarness(t, load(t, "/m/p.yaml", y))
	h.loop.cfg.Node.HostIP = "127.0.0.2"
	h.clock.now = time.Now() // probes run on real time from the container's start
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.loop.SyncOnce(ctx)
	h.loop.Wait()
	h.loop.SyncOnce(ctx) // starts the probe worker of the running container
	eventually(t, func() bool { return hits.Load() > 0 })
}

func TestGRPCCheck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()
	port := int32(l.Addr().(*net.TCPAddr).Port)
	target := handlerTarget{host: "127.0.0.1"}
	if err := grpcCheck(context.Background(), &corev1.GRPCAction{Port: port}, target, 2*time.Second); err != nil {
		t.Errorf("overall health: %v", err)
	}
	db := "db"
	if err := grpcCheck(context.Background(), &corev1.GRPCAction{Port: port, Service: &db}, target, 2*time.Second); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Errorf("a service not serving: %v", err)
	}
}

func TestExecProbeKillsAfterFailureThreshold(t *testing.T) {
	y := podYAML("p", "Always", "x", "main") + `    livenessProbe:
      exec: {command: ["check"]}
      periodSeconds: 1
      failureThreshold: 2
`
	h := newHarness(t, load(t, "/m/p.yaml", y))
	h.clock.now = time.Now() // probes run on real time from the container's start
	h.rt.execResult = map[string]int32{"main": 1}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.loop.SyncOnce(ctx)
	h.loop.Wait()
	h.loop.SyncOnce(ctx) // starts the probe worker of the running container
	eventually(t, func() bool {
		_, ok := h.rt.running()["p-node1/main"]
		return !ok
	})
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

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
