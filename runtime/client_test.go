package runtime

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeCRI is a CRI server on a unix socket with answers set by the test.
type fakeCRI struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	apiVersion   string
	runtimeReady bool
	stopErr      error
	listErr      error
	// cgroupDriver answers RuntimeConfig; cgroupErr fails it.
	cgroupDriver *runtimeapi.CgroupDriver
	cgroupErr    error
	// execStdout and execStderr answer ExecSync.
	execStdout, execStderr []byte
	// mu guards left, the time ListPodSandbox had left before its deadline.
	mu   stdsync.Mutex
	left time.Duration
}

func (f *fakeCRI) RuntimeConfig(context.Context, *runtimeapi.RuntimeConfigRequest) (*runtimeapi.RuntimeConfigResponse, error) {
	if f.cgroupErr != nil {
		return nil, f.cgroupErr
	}
	if f.cgroupDriver == nil {
		return &runtimeapi.RuntimeConfigResponse{}, nil
	}
	return &runtimeapi.RuntimeConfigResponse{Linux: &runtimeapi.LinuxRuntimeConfiguration{CgroupDriver: *f.cgroupDriver}}, nil
}

func (f *fakeCRI) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{RuntimeName: "fake", RuntimeVersion: "0.1", RuntimeApiVersion: f.apiVersion}, nil
}

func (f *fakeCRI) Status(context.Context, *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	return &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: f.runtimeReady, Reason: "NotReadyReason"},
		{Type: runtimeapi.NetworkReady, Status: false, Reason: "NetworkPluginNotReady"},
	}}}, nil
}

func (f *fakeCRI) StopContainer(context.Context, *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	return &runtimeapi.StopContainerResponse{}, f.stopErr
}

func (f *fakeCRI) ExecSync(context.Context, *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	return &runtimeapi.ExecSyncResponse{ExitCode: 1, Stdout: f.execStdout, Stderr: f.execStderr}, nil
}

func (f *fakeCRI) ListPodSandbox(ctx context.Context, _ *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	if d, ok := ctx.Deadline(); ok {
		f.mu.Lock()
		f.left = time.Until(d)
		f.mu.Unlock()
	}
	return &runtimeapi.ListPodSandboxResponse{}, f.listErr
}

func serve(t *testing.T, f *fakeCRI, register bool) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "cri.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	if register {
		runtimeapi.RegisterRuntimeServiceServer(srv, f)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return "unix://" + sock
}

var discard = slog.New(slog.DiscardHandler)

func TestDialChecksVersionAndStatus(t *testing.T) {
	ctx := context.Background()
	ep := serve(t, &fakeCRI{apiVersion: "v1", runtimeReady: true}, true)
	c, info, err := Dial(ctx, ep, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if info.RuntimeName != "fake" || info.NetworkReady || !strings.Contains(info.NetworkReason, "NetworkPluginNotReady") {
		t.Errorf("info %+v", info)
	}

	for _, tc := range []struct {
		name string
		ep   string
		want string
	}{
		{"missing socket", "unix:///nonexistent/cri.sock", "container runtime endpoint unix:///nonexistent/cri.sock: socket /nonexistent/cri.sock: no such file or directory"},
		{"not a socket", "unix://" + os.Args[0], "is not a socket"},
		{"tcp endpoint", "tcp://127.0.0.1:1", "only unix:// endpoints are supported"},
		{"not a CRI server", serve(t, &fakeCRI{}, false), "not a CRI v1 runtime"},
		{"old CRI version", serve(t, &fakeCRI{apiVersion: "v1alpha2", runtimeReady: true}, true), `speaks CRI "v1alpha2", bosun needs v1`},
		{"runtime not ready", serve(t, &fakeCRI{apiVersion: "v1"}, true), "runtime not ready: NotReadyReason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Dial(ctx, tc.ep, discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line containing %q", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), tc.ep) {
				t.Errorf("error %v does not name the endpoint %s", err, tc.ep)
			}
		})
	}
}

func TestGRPCCodesBecomeSentinels(t *testing.T) {
	ctx := context.Background()
	f := &fakeCRI{apiVersion: "v1", runtimeReady: true}
	calls := map[string]int{}
	var mu stdsync.Mutex
	observe := func(method, code string, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		calls[method+" "+code]++
	}
	c, _, err := Dial(ctx, serve(t, f, true), discard, WithObserver(observe))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	f.stopErr = status.Error(codes.NotFound, "no such container")
	if err := c.StopContainer(ctx, "abc", 1); err != nil {
		t.Errorf("StopContainer of a missing container: %v, want nil (idempotent)", err)
	}
	for code, sentinel := range map[codes.Code]error{
		codes.NotFound: ErrNotFound, codes.Unavailable: ErrUnavailable, codes.DeadlineExceeded: ErrTimeout,
		codes.Unimplemented: ErrUnimplemented, codes.AlreadyExists: ErrAlreadyExists,
	} {
		f.listErr = status.Error(code, "boom")
		_, err := c.ListPodSandbox(ctx, nil)
		if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), "ListPodSandbox") || !strings.Contains(err.Error(), "boom") {
			t.Errorf("code %v: error %v, want %v naming the call", code, err, sentinel)
		}
	}
	f.listErr = status.Error(codes.Internal, "disk full")
	if _, err := c.ListPodSandbox(ctx, nil); err == nil || err.Error() != "ListPodSandbox: disk full" {
		t.Errorf("internal error: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := calls["ListPodSandbox Internal"] + calls["ListPodSandbox NotFound"] + calls["ListPodSandbox Unavailable"] +
		calls["ListPodSandbox DeadlineExceeded"] + calls["ListPodSandbox Unimplemented"] + calls["ListPodSandbox AlreadyExists"]; n != 6 {
		t.Errorf("ListPodSandbox observed %d times by code (%v), want 6", n, calls)
	}
}

func TestChooseCgroupDriver(t *testing.T) {
	ctx := context.Background()
	systemd, cgroupfs := runtimeapi.CgroupDriver_SYSTEMD, runtimeapi.CgroupDriver_CGROUPFS
	unimplemented := status.Error(codes.Unimplemented, "unknown method RuntimeConfig")
	for _, tc := range []struct {
		name       string
		driver     *runtimeapi.CgroupDriver
		err        error
		configured string
		want       CgroupDriverChoice
		wantErr    string
	}{
		{"the runtime's systemd is used when nothing is configured", &systemd, nil, "", CgroupDriverChoice{Driver: "systemd", From: "runtime"}, ""},
		{"the runtime's answer wins over a configured driver that disagrees", &cgroupfs, nil, "systemd",
			CgroupDriverChoice{Driver: "cgroupfs", From: "runtime", Overruled: "systemd"}, ""},
		{"a configured driver that agrees is not overruled", &systemd, nil, "systemd", CgroupDriverChoice{Driver: "systemd", From: "runtime"}, ""},
		{"a runtime without RuntimeConfig (containerd 1.x) leaves the configured driver", nil, unimplemented, "systemd",
			CgroupDriverChoice{Driver: "systemd", From: "flag or config"}, ""},
		{"a runtime without RuntimeConfig and nothing configured gives cgroupfs", nil, unimplemented, "", CgroupDriverChoice{Driver: "cgroupfs", From: "default"}, ""},
		{"a runtime that answers without a Linux config leaves the configured driver", nil, nil, "systemd",
			CgroupDriverChoice{Driver: "systemd", From: "flag or config"}, ""},
		{"another runtime error is returned", nil, status.Error(codes.Internal, "boom"), "", CgroupDriverChoice{}, "cgroup driver: RuntimeConfig: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Dial(ctx, serve(t, &fakeCRI{apiVersion: "v1", runtimeReady: true, cgroupDriver: tc.driver, cgroupErr: tc.err}, true), discard)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, err := ChooseCgroupDriver(ctx, c.CgroupDriver, tc.configured)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestExecSyncKeepsTheFirstBytesOfAHugeOutput(t *testing.T) {
	ctx := context.Background()
	f := &fakeCRI{apiVersion: "v1", runtimeReady: true, execStdout: []byte("out:" + strings.Repeat("o", 8<<20)), execStderr: []byte("err")}
	c, _, err := Dial(ctx, serve(t, f, true), discard)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	code, out, err := c.ExecSync(ctx, "abc", []string{"check"}, time.Second)
	if err != nil || code != 1 || len(out) != maxExecOutput || !strings.HasPrefix(string(out), "out:ooo") || cap(out) != maxExecOutput {
		t.Errorf("ExecSync of 8 MiB of output: code %d, %d bytes kept (cap %d), %v; want the first %d", code, len(out), cap(out), err, maxExecOutput)
	}
	f.execStdout = []byte("short ")
	if _, out, _ := c.ExecSync(ctx, "abc", nil, time.Second); string(out) != "short err" {
		t.Errorf("short output %q, want stdout then stderr", out)
	}
}

func TestRuntimeRequestTimeoutIsEachCallsDeadline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []Option
		atMost  time.Duration
		atLeast time.Duration
	}{
		{"without runtimeRequestTimeout a call has bosun's 30s", nil, callTimeout, 10 * time.Second},
		{"runtimeRequestTimeout 3s gives a call 3s", []Option{WithRequestTimeout(3 * time.Second)}, 3 * time.Second, 0},
		{"runtimeRequestTimeout 5m gives a call 5m", []Option{WithRequestTimeout(5 * time.Minute)}, 5 * time.Minute, 4 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCRI{apiVersion: "v1", runtimeReady: true}
			c, _, err := Dial(context.Background(), serve(t, f, true), slog.New(slog.DiscardHandler), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.ListPodSandbox(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			left := f.left
			f.mu.Unlock()
			if left <= tc.atLeast || left > tc.atMost {
				t.Errorf("the call had %v left, want at most %v (and more than %v)", left, tc.atMost, tc.atLeast)
			}
		})
	}
}
