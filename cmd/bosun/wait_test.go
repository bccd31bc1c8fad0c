package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func waitFake(t *testing.T) (sock, logDir string) {
	t.Helper()
	old := waitPoll
	waitPoll = 5 * time.Millisecond
	t.Cleanup(func() { waitPoll = old })
	logDir = t.TempDir()
	var log strings.Builder
	for i := 1; i <= 25; i++ {
		log.WriteString("2026-11-27T11:59:40Z stdout F line " + string(rune('a'+i-1)) + "\n")
	}
	if err := os.MkdirAll(filepath.Join(logDir, "main"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, "main", "4.log"), []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return serveFake(t, logDir), logDir
}

func TestWaitHolds(t *testing.T) {
	sock, _ := waitFake(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"etcd", "--for=ready"}, "pod kube-system/etcd-cp1 is ready\n"},
		{[]string{"kube-system/etcd-cp1", "--for", "running", "--timeout", "1s"}, "pod kube-system/etcd-cp1 is running\n"},
		{[]string{"--for=deleted", "gone", "default/gone-too"}, "pod gone is deleted\npod default/gone-too is deleted\n"},
	} {
		out, errOut, err := runCLI(append([]string{"wait", "--api-socket", sock}, tc.args...)...)
		if err != nil || out != tc.want {
			t.Errorf("%v: %q %q %v, want %q", tc.args, out, errOut, err, tc.want)
		}
	}
}

func TestWaitTimeoutGolden(t *testing.T) {
	sock, logDir := waitFake(t)
	for _, tc := range []struct {
		golden string
		args   []string
		want   string
	}{
		{"wait-ready.golden", []string{"crashy", "etcd", "nothere", "--for=ready", "--timeout=500ms"}, "timed out after 500ms: 2 not ready"},
		{"wait-all.golden", []string{"--all", "--for=running", "--timeout=500ms"}, "timed out after 500ms: 2 not running"},
		{"wait-deleted.golden", []string{"etcd", "nothere", "--for=deleted", "--timeout=500ms"}, "timed out after 500ms: 1 not deleted"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, _, err := runCLI(append([]string{"wait", "--api-socket", sock}, tc.args...)...)
			if err == nil || exitCode(err) != 1 || err.Error() != tc.want {
				t.Errorf("%v: %v (exit %d), want %q exit 1", tc.args, err, exitCode(err), tc.want)
			}
			golden(t, tc.golden, strings.ReplaceAll(out, logDir, "$LOGDIR"))
		})
	}
}

func TestWaitUsage(t *testing.T) {
	sock, _ := waitFake(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"etcd"}, `--for must be ready, running or deleted, not ""`},
		{[]string{"etcd", "--for=up"}, `--for must be ready, running or deleted, not "up"`},
		{[]string{"--for=ready"}, "wait needs POD names or --all (not both)"},
		{[]string{"etcd", "--all", "--for=ready"}, "wait needs POD names or --all (not both)"},
		{[]string{"etcd", "--for=ready", "--timeout=0s"}, "--timeout must be positive"},
	} {
		_, _, err := runCLI(append([]string{"wait", "--api-socket", sock}, tc.args...)...)
		if err == nil || err.Error() != tc.want || exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want %q exit 2", tc.args, err, exitCode(err), tc.want)
		}
	}
}
