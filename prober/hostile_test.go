package prober

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	testingclock "k8s.io/utils/clock/testing"
)

func TestARedirectToAHugeLocationOnAnotherHostGivesABoundedMessage(t *testing.T) {
	for _, size := range []int{40 << 10, 9 << 20} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			loc := "http://localhost:1/" + strings.Repeat("é", size/2)
			port, _ := serve(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", loc)
				w.WriteHeader(http.StatusFound)
			})
			h := &corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt(port)}}
			warning, err := Runner{}.Probe(context.Background(), h, Target{Host: "127.0.0.1"}, 5*time.Second)
			msg := warning
			if err != nil {
				msg = err.Error()
			}
			if len(msg) > MaxMessage || msg == "" || !utf8.ValidString(msg) {
				t.Fatalf("a %d-byte Location gave a %d-byte message (want at most %d, escaped): %.300q", size, len(msg), MaxMessage, msg)
			}
			if size < maxResponseHeader && (err != nil || !strings.Contains(warning, `to "http://localhost:1/%C3%A9%C3%A9`)) {
				t.Errorf("a %d-byte Location: warning %.300q, err %v; want a success quoting its first bytes", size, warning, err)
			}
		})
	}
}

func TestAFailedExecProbeQuotesTheFirstBytesOfItsOutputEscaped(t *testing.T) {
	out := []byte("\x1b[2J" + strings.Repeat("y", 1<<20))
	r := Runner{Exec: execFunc(func() (int32, []byte, error) { return 1, out, nil })}
	_, err := r.Probe(context.Background(), &corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}}, Target{ContainerID: "c1"}, time.Second)
	if err == nil || len(err.Error()) > maxQuoted+100 || strings.ContainsRune(err.Error(), 0x1b) || !strings.Contains(err.Error(), `"\x1b[2Jyyy`) {
		t.Errorf("exec probe failure: %d bytes: %.300q", len(errString(err)), errString(err))
	}
}

func TestAGRPCStatusMessageIsBounded(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, sickHealth{msg: strings.Repeat("z", 32<<10)})
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()
	h := &corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: int32(l.Addr().(*net.TCPAddr).Port)}}
	_, err = Runner{}.Probe(context.Background(), h, Target{Host: "127.0.0.1"}, 5*time.Second)
	if err == nil || len(err.Error()) > MaxMessage || !strings.Contains(err.Error(), "zzz") {
		t.Errorf("a 32 KiB gRPC status message: %d bytes: %.300q", len(errString(err)), errString(err))
	}
}

// proxyChildEnv marks the child process of
// TestProbesNeverUseAProxyFromTheEnvironment: net/http reads the proxy
// variables once per process, so the test runs where no one read them yet.
const proxyChildEnv = "BOSUN_PROBER_PROXY_CHILD"

func TestProbesNeverUseAProxyFromTheEnvironment(t *testing.T) {
	if os.Getenv(proxyChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestProbesNeverUseAProxyFromTheEnvironment$", "-test.v")
		cmd.Env = append(os.Environ(), proxyChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestProbesNeverUseAProxyFromTheEnvironment") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	// The proxy records whatever reaches it and answers nothing useful.
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	var proxied atomic.Int32
	go func() {
		for {
			c, err := pl.Accept()
			if err != nil {
				return
			}
			proxied.Add(1)
			line, _ := bufio.NewReader(c).ReadString('\n')
			t.Logf("the proxy got %q", line)
			c.Close()
		}
	}()
	proxy := "http://" + pl.Addr().String()
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"} {
		t.Setenv(k, proxy)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")

	// The proxy rules exempt "localhost" and loopback addresses; 0.0.0.0 is
	// neither, yet the kernel connects it to loopback.
	const host = "0.0.0.0"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, sickHealth{serving: true})
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()
	if err := GRPCCheck(context.Background(), &corev1.GRPCAction{Port: int32(l.Addr().(*net.TCPAddr).Port)}, Target{Host: host}, 5*time.Second); err != nil {
		t.Errorf("gRPC probe through %s: %v; want it to reach the pod", host, err)
	}
	port, asked := serve(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {})
	for _, scheme := range []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS} {
		g := &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt(port), Scheme: scheme}
		if _, err := HTTPCheck(context.Background(), g, Target{Host: host}, 5*time.Second); err != nil && scheme == corev1.URISchemeHTTP {
			t.Errorf("HTTP probe through %s: %v; want it to reach the pod", host, err)
		}
	}
	if n := proxied.Load(); n != 0 {
		t.Errorf("the proxy from the environment got %d connections, want none", n)
	}
	if asked.Load() == 0 {
		t.Error("the HTTP probe never reached the pod")
	}
}

func TestASleepHookEndsAtItsTimeout(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Unix(1_800_000_000, 0))
	done := make(chan error, 1)
	go func() {
		_, err := Runner{Clock: clk}.Hook(context.Background(), &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 1_000_000}}, Target{}, 30*time.Second)
		done <- err
	}()
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(30 * time.Second)
	if err := <-done; err != nil {
		t.Errorf("sleep hook: %v", err)
	}
	for _, tc := range []struct {
		seconds int64
		timeout time.Duration
		want    time.Duration
	}{
		{5, 30 * time.Second, 5 * time.Second},
		{1 << 62, 30 * time.Second, 30 * time.Second},
		{-1, 30 * time.Second, 0},
		{5, 0, 0},
	} {
		if got := sleepFor(tc.seconds, tc.timeout); got != tc.want {
			t.Errorf("sleepFor(%d, %v) = %v, want %v", tc.seconds, tc.timeout, got, tc.want)
		}
	}
}

func TestTruncateCutsOnARuneBoundaryWithAMarker(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 6, "abc…"},
		{"ab€€", 7, "ab…"},
		{"abc", 2, ""},
	} {
		got := Truncate(tc.in, tc.n)
		if got != tc.want || len(got) > tc.n || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	if err := bound(errors.New(strings.Repeat("e", 5000))); len(err.Error()) > MaxMessage {
		t.Errorf("bound: %d bytes", len(err.Error()))
	}
	base := errors.New(strings.Repeat("e", 5000))
	if err := bound(base); !errors.Is(err, base) {
		t.Error("bound lost the error it wraps")
	}
}

type execFunc func() (int32, []byte, error)

func (f execFunc) ExecSync(context.Context, string, []string, time.Duration) (int32, []byte, error) {
	return f()
}

// sickHealth answers every health check: SERVING, or an error with msg.
type sickHealth struct {
	healthpb.UnimplementedHealthServer
	serving bool
	msg     string
}

func (s sickHealth) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if s.serving {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}
	return nil, status.Error(codes.Unavailable, s.msg)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestProbeMessagesShowNeitherTheQueryNorTheCommand(t *testing.T) {
	port, _ := serve(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "http://localhost:1/?token=fromthepod", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/loop?token=hunter2", http.StatusFound)
	})
	g := &corev1.HTTPGetAction{Path: "/moved?token=hunter2", Port: intstr.FromInt(port)}
	w, err := HTTPCheck(context.Background(), g, Target{Host: "127.0.0.1"}, 5*time.Second)
	if err != nil || strings.Contains(w, "hunter2") || strings.Contains(w, "fromthepod") || !strings.Contains(w, "/moved") {
		t.Errorf("redirect warning %q, %v; want it without the queries", w, err)
	}
	g.Path = "/loop?token=hunter2"
	if _, err := HTTPCheck(context.Background(), g, Target{Host: "127.0.0.1"}, 5*time.Second); err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("redirect loop: %v; want a failure without the query", err)
	}
	r := Runner{Exec: execFunc(func() (int32, []byte, error) { return 2, []byte("sick"), nil })}
	if err := r.ExecCheck(context.Background(), "c1", []string{"check", "--password=hunter2"}, time.Second); err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), `exited with 2: "sick"`) {
		t.Errorf("exec failure: %v; want the exit code and output, not the command", err)
	}
}
