package prober

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
	target := Target{Host: "127.0.0.1", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
	get := func(path string, p intstr.IntOrString) error {
		_, err := HTTPCheck(context.Background(), &corev1.HTTPGetAction{Path: path, Port: p, Scheme: corev1.URISchemeHTTP,
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
	if err := TCPCheck(context.Background(), &corev1.TCPSocketAction{Port: intstr.FromString("web")}, target, time.Second); err != nil {
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
	target := Target{Host: "127.0.0.1"}
	get := func(path string) (string, error) {
		return HTTPCheck(context.Background(), &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt(port)}, target, 5*time.Second)
	}

	// A redirect to the same host (another port) is followed: its answer counts.
	if w, err := get("/same-host"); err == nil || !strings.Contains(err.Error(), "statuscode: 500") || w != "" || other.Load() != 1 {
		t.Errorf("redirect to the same host: %q, %v, %d requests there; want the 500 of its target", w, err, other.Load())
	}
	// A redirect to another host is not followed: success with a warning.
	w, err := get("/other-host")
	if err != nil || !strings.Contains(w, "redirect that is not followed (302 to \"http://localhost:") || !strings.Contains(w, "localhost:"+strconv.Itoa(otherPort)) {
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
	if _, err := get("/big-failure"); err == nil || len(err.Error()) > maxQuoted+100 || !strings.Contains(err.Error(), "statuscode: 503") {
		t.Errorf("a failure with a 20 KiB body: %d bytes of message: %.300v", len(err.Error()), err)
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
	target := Target{Host: "127.0.0.1"}
	if err := GRPCCheck(context.Background(), &corev1.GRPCAction{Port: port}, target, 2*time.Second); err != nil {
		t.Errorf("overall health: %v", err)
	}
	db := "db"
	if err := GRPCCheck(context.Background(), &corev1.GRPCAction{Port: port, Service: &db}, target, 2*time.Second); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Errorf("a service not serving: %v", err)
	}
}
