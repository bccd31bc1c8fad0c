package prober

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
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

// headersSeen serves on 127.0.0.1 and records the host and headers of each
// request, answering with status.
func headersSeen(t *testing.T, status int) (int, func() []*http.Request) {
	t.Helper()
	var mu stdsync.Mutex
	var seen []*http.Request
	port, _ := serve(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, &http.Request{Host: r.Host, Header: r.Header.Clone(), URL: r.URL})
		mu.Unlock()
		http.Error(w, "teapot", status)
	})
	return port, func() []*http.Request {
		mu.Lock()
		defer mu.Unlock()
		return append([]*http.Request(nil), seen...)
	}
}

func TestHTTPProbesAndHooksSendTheKubeletsHeadersAndTheManifestsWin(t *testing.T) {
	port, seen := headersSeen(t, http.StatusOK)
	target := Target{Host: "127.0.0.1"}
	for _, tc := range []struct {
		name    string
		hook    bool
		headers []corev1.HTTPHeader
		// want is each header's values as the server saw them (nil: absent).
		want map[string][]string
		host string
	}{
		{name: "a probe says kube-probe/1.37 and accepts anything",
			want: map[string][]string{"User-Agent": {"kube-probe/1.37"}, "Accept": {"*/*"}}, host: "127.0.0.1"},
		{name: "a hook says kube-lifecycle/1.37", hook: true,
			want: map[string][]string{"User-Agent": {"kube-lifecycle/1.37"}, "Accept": {"*/*"}}, host: "127.0.0.1"},
		{name: "the manifest's User-Agent and Accept win, whatever their case",
			headers: []corev1.HTTPHeader{{Name: "user-agent", Value: "mine/1"}, {Name: "ACCEPT", Value: "application/json"}, {Name: "x-extra", Value: "a"}, {Name: "X-Extra", Value: "b"}},
			want:    map[string][]string{"User-Agent": {"mine/1"}, "Accept": {"application/json"}, "X-Extra": {"a", "b"}}, host: "127.0.0.1"},
		{name: "an empty Accept or User-Agent in the manifest removes it", hook: true,
			headers: []corev1.HTTPHeader{{Name: "Accept", Value: ""}, {Name: "User-Agent", Value: ""}},
			want:    map[string][]string{"User-Agent": nil, "Accept": nil}, host: "127.0.0.1"},
		{name: "the first host header, whatever its case, is the request's host",
			headers: []corev1.HTTPHeader{{Name: "host", Value: "cp.example"}, {Name: "Host", Value: "other.example"}},
			want:    map[string][]string{"User-Agent": {"kube-probe/1.37"}}, host: "cp.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(seen())
			g := &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt(port), HTTPHeaders: tc.headers}
			var err error
			if tc.hook {
				_, err = Runner{}.Hook(context.Background(), &corev1.LifecycleHandler{HTTPGet: g}, target, 5*time.Second)
			} else {
				_, err = Runner{}.Probe(context.Background(), &corev1.ProbeHandler{HTTPGet: g}, target, 5*time.Second)
			}
			if err != nil {
				t.Fatal(err)
			}
			reqs := seen()
			if len(reqs) != before+1 {
				t.Fatalf("%d requests, want 1", len(reqs)-before)
			}
			r := reqs[before]
			for name, want := range tc.want {
				if got := r.Header.Values(name); !slices.Equal(got, want) {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			if h, _, _ := net.SplitHostPort(r.Host); h != tc.host && r.Host != tc.host {
				t.Errorf("host %q, want %q", r.Host, tc.host)
			}
		})
	}
}

func TestKubeVersionIsTheMinorOfTheLinkedKubernetesAPI(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*k8s\.io/api v0\.(\d+)\.`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod requires no k8s.io/api v0.x")
	}
	if want := "1." + string(m[1]); KubeVersion != want {
		t.Errorf("KubeVersion %q, want %q: k8s.io/api v0.%s is Kubernetes %s; update KubeVersion with the API", KubeVersion, want, m[1], want)
	}
}

func TestAnHTTPHookSucceedsWhateverItsStatusCodeAsTheKubelets(t *testing.T) {
	for _, code := range []int{http.StatusOK, http.StatusNotFound, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		port, seen := headersSeen(t, code)
		g := &corev1.HTTPGetAction{Path: "/hook", Port: intstr.FromInt(port)}
		if _, err := (Runner{}).Hook(context.Background(), &corev1.LifecycleHandler{HTTPGet: g}, Target{Host: "127.0.0.1"}, 5*time.Second); err != nil || len(seen()) != 1 {
			t.Errorf("a hook answered %d: %v after %d requests; want success after 1", code, err, len(seen()))
		}
		_, err := Runner{}.Probe(context.Background(), &corev1.ProbeHandler{HTTPGet: g}, Target{Host: "127.0.0.1"}, 5*time.Second)
		if ok := code < 400; ok != (err == nil) {
			t.Errorf("a probe answered %d: %v", code, err)
		}
	}
	// A hook that gets no answer fails.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	g := &corev1.HTTPGetAction{Path: "/hook", Port: intstr.FromInt(port)}
	if _, err := (Runner{}).Hook(context.Background(), &corev1.LifecycleHandler{HTTPGet: g}, Target{Host: "127.0.0.1"}, 5*time.Second); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("a hook to a closed port: %v, want it failed", err)
	}
}

func TestAnHTTPSHookAnsweredInHTTPIsAskedAgainOverHTTPWithoutItsAuthorization(t *testing.T) {
	port, seen := headersSeen(t, http.StatusOK)
	g := &corev1.HTTPGetAction{Path: "/hook", Port: intstr.FromInt(port), Scheme: corev1.URISchemeHTTPS,
		HTTPHeaders: []corev1.HTTPHeader{{Name: "Authorization", Value: "Bearer hunter2"}, {Name: "X-Keep", Value: "yes"}}}
	warning, err := Runner{}.Hook(context.Background(), &corev1.LifecycleHandler{HTTPGet: g}, Target{Host: "127.0.0.1"}, 5*time.Second)
	if err != nil || !strings.Contains(warning, "asked again over HTTP") || strings.Contains(warning, "hunter2") {
		t.Fatalf("warning %q, err %v; want success with a warning", warning, err)
	}
	reqs := seen()
	if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "" || reqs[0].Header.Get("X-Keep") != "yes" {
		t.Errorf("requests over HTTP: %v; want one, without Authorization, with the other headers", reqs)
	}
	// A probe does not fall back: the kubelet's prober does not.
	if _, err := (Runner{}).Probe(context.Background(), &corev1.ProbeHandler{HTTPGet: g}, Target{Host: "127.0.0.1"}, 5*time.Second); err == nil || len(seen()) != 1 {
		t.Errorf("an HTTPS probe answered in HTTP: %v; want a failure and no request over HTTP", err)
	}
}

func TestATCPSocketHookFailsAsTheKubeletsDoesWhileTheSameProbeSucceeds(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := &corev1.TCPSocketAction{Port: intstr.FromInt(l.Addr().(*net.TCPAddr).Port)}
	if _, err := (Runner{}).Hook(context.Background(), &corev1.LifecycleHandler{TCPSocket: s}, Target{Host: "127.0.0.1"}, 5*time.Second); !errors.Is(err, ErrTCPSocketHook) {
		t.Errorf("a tcpSocket hook to a listening port: %v, want ErrTCPSocketHook", err)
	}
	if _, err := (Runner{}).Probe(context.Background(), &corev1.ProbeHandler{TCPSocket: s}, Target{Host: "127.0.0.1"}, 5*time.Second); err != nil {
		t.Errorf("a tcpSocket probe to a listening port: %v", err)
	}
}

func TestAProbeWhosePortNameIsUnknownCouldNotBeRun(t *testing.T) {
	for _, h := range []*corev1.ProbeHandler{
		{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("nope")}},
		{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("nope")}},
		{},
	} {
		if _, err := (Runner{}).Probe(context.Background(), h, Target{Host: "127.0.0.1"}, time.Second); !errors.Is(err, ErrNotRun) {
			t.Errorf("%+v: %v, want ErrNotRun", h, err)
		}
	}
}
