package main

import (
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/proto/server"
	"github.com/bosun-sh/bosun/sync"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type fakeState struct {
	pods      []sync.PodStatus
	manifests []sync.ManifestStatus
	history   *sync.History
}

func (f *fakeState) Pods() []sync.PodStatus           { return f.pods }
func (f *fakeState) Manifests() []sync.ManifestStatus { return f.manifests }
func (f *fakeState) Ready() bool                      { return true }
func (f *fakeState) History() *sync.History           { return f.history }

// serveFake serves a fixed state on a real unix socket and returns it.
func serveFake(t *testing.T, logDir string) string {
	t.Helper()
	old := now
	now = func() time.Time { return t0 }
	t.Cleanup(func() { now = old })
	h := sync.NewHistory()
	h.Add(sync.Event{Time: t0.Add(-time.Minute), Type: sync.EventPodCreated, Pod: "kube-system/etcd-cp1", Message: "sandbox 1234 attempt 0"})
	h.Add(sync.Event{Time: t0.Add(-30 * time.Second), Type: sync.EventContainerExited, Pod: "default/crashy-cp1", Container: "main", Message: "exit code 3, Error"})
	st := &fakeState{history: h, pods: []sync.PodStatus{
		{Namespace: "kube-system", Name: "etcd-cp1", UID: "0123456789abcdef0123456789abcdef", Hash: "0123456789abcdef0123456789abcdef",
			File: "/etc/kubernetes/manifests/etcd.yaml", Phase: "Running", Reason: "Running", SandboxID: "aaaabbbbccccdddd", IP: "192.0.2.10",
			HostNetwork: true, Created: t0.Add(-(3*24 + 4) * time.Hour),
			Containers: []sync.ContainerStatus{{Name: "etcd", ID: "c1", Image: "registry.k8s.io/etcd:3.6", State: "Running", Ready: true,
				StartedAt: t0.Add(-3 * time.Hour), LogPath: filepath.Join(logDir, "etcd", "0.log")}}},
		{Namespace: "default", Name: "crashy-cp1", UID: "fedcba9876543210fedcba9876543210", Hash: "fedcba9876543210fedcba9876543210",
			File: "/etc/kubernetes/manifests/crashy.yaml", Phase: "Running", Reason: "CrashLoopBackOff", SandboxID: "eeeeffff00001111",
			Attempt: 1, IP: "10.88.7.5", Created: t0.Add(-(5*time.Hour + 30*time.Minute)),
			ManifestError: "manifest /etc/kubernetes/manifests/crashy.yaml: line 9: spec.containers[0].comand: unknown field",
			Containers: []sync.ContainerStatus{
				{Name: "main", ID: "c2", Image: "busybox:1.36", State: "Waiting", Reason: "CrashLoopBackOff", RestartCount: 4,
					Message: "back-off 40s restarting failed container", BackoffUntil: t0.Add(40 * time.Second),
					LogPath:         filepath.Join(logDir, "main", "4.log"),
					LastTermination: &sync.Termination{ExitCode: 3, Reason: "Error", FinishedAt: t0.Add(-20 * time.Second)}},
				{Name: "side", ID: "c3", Image: "busybox:1.36", State: "Running", Ready: true, StartedAt: t0.Add(-5 * time.Minute)}}},
	}, manifests: []sync.ManifestStatus{{File: "/etc/kubernetes/manifests/crashy.yaml",
		Error: "manifest /etc/kubernetes/manifests/crashy.yaml: line 9: spec.containers[0].comand: unknown field"},
		{File: "/etc/kubernetes/manifests/etcd.yaml.bak", Ignored: "an editor or package manager leftover (*.bak)"},
		{File: "/etc/kubernetes/manifests/notes.txt", Ignored: "not a manifest name (*.yaml, *.yml, *.json, *.manifest)"}}}
	return serveState(t, st)
}

// serveState serves st on a real unix socket and returns it.
func serveState(t *testing.T, st *fakeState) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api", "bosun.sock")
	l, err := server.Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v; want 0600", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Dir(sock)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory mode %v, %v; want 0700", fi.Mode(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = server.Serve(ctx, l, server.New(st, &bosunv1.Info{Node: "cp1", Version: "test"})) }()
	return sock
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestClientVerbsGolden(t *testing.T) {
	logDir := t.TempDir()
	for _, f := range []struct{ path, content string }{
		{"main/3.log", "2026-11-27T11:59:00Z stdout F try 3\n2026-11-27T11:59:01Z stderr F failed 3\n"},
		{"main/4.log", "2026-11-27T11:59:40Z stdout F try 4\n2026-11-27T11:59:40.5Z stdout P a long \n2026-11-27T11:59:40.6Z stdout F line\n2026-11-27T11:59:41Z stderr F failed 4\n"},
	} {
		p := filepath.Join(logDir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sock := serveFake(t, logDir)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"ps.golden", []string{"ps"}},
		{"ps-wide.golden", []string{"ps", "-o", "wide"}},
		{"ps-json.golden", []string{"ps", "-o", "json"}},
		{"inspect.golden", []string{"inspect", "crashy"}},
		{"inspect-yaml.golden", []string{"inspect", "crashy", "-o", "yaml"}},
		{"inspect-json.golden", []string{"inspect", "etcd", "-o", "json"}},
		{"events.golden", []string{"events"}},
		{"logs.golden", []string{"logs", "crashy", "-c", "main", "--timestamps"}},
		{"logs-previous-tail.golden", []string{"logs", "default/crashy-cp1", "-c", "main", "--previous", "--tail", "1"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			args := append([]string{tc.args[0], "--api-socket", sock}, tc.args[1:]...)
			out, errOut, err := runCLI(args...)
			if err != nil {
				t.Fatalf("%v: %v %s", tc.args, err, errOut)
			}
			golden(t, tc.golden, strings.ReplaceAll(out, logDir, "$LOGDIR"))
		})
	}
}

func TestClientErrors(t *testing.T) {
	sock := serveFake(t, t.TempDir())
	missing := filepath.Join(t.TempDir(), "nope.sock")
	// A socket file with no server behind it, as a killed bosun leaves it.
	stale := filepath.Join(t.TempDir(), "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"ps", "--api-socket", missing}, "bosun is not running (no server at " + missing + ")", 1},
		{[]string{"ps", "--api-socket", stale}, "bosun is not running (no server at " + stale + ")", 1},
		{[]string{"inspect", "--api-socket", sock, "nothere"}, `no pod "nothere"`, 1},
		{[]string{"logs", "--api-socket", sock, "crashy"}, "several containers: choose one with -c (main, side)", 2},
		{[]string{"logs", "--api-socket", sock, "etcd", "--previous"}, "has no previous instance", 1},
		{[]string{"inspect", "--api-socket", sock}, "inspect needs one POD", 2},
	} {
		_, _, err := runCLI(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != tc.code {
			t.Errorf("%v: %v (exit %d), want %q exit %d", tc.args, err, exitCode(err), tc.want, tc.code)
		}
	}
}

func TestAgeAsKubectlPrintsIt(t *testing.T) {
	old := now
	now = func() time.Time { return t0 }
	t.Cleanup(func() { now = old })
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{45 * time.Second, "45s"},
		{3*time.Minute + 12*time.Second, "3m12s"},
		{5*time.Hour + 30*time.Minute, "5h30m"},
		{(3*24 + 4) * time.Hour, "3d4h"},
		{400 * 24 * time.Hour, "400d"},
		{-time.Second, "0s"},
	} {
		if got := since(t0.Add(-tc.ago).UnixNano()); got != tc.want {
			t.Errorf("since %v ago = %q, want %q", tc.ago, got, tc.want)
		}
	}
	if got := since(0); got != "<unknown>" {
		t.Errorf("since(0) = %q", got)
	}
}
