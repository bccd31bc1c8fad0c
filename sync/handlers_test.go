package sync

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
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
		return httpCheck(context.Background(), &corev1.HTTPGetAction{Path: path, Port: p, Scheme: corev1.URISchemeHTTP,
			HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}, {Name: "Host", Value: "cp.example"}}}, target, time.Second)
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
