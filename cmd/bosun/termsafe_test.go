package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/sync"
)

// hostile is text a container controls that would clear the operator's
// screen, set the terminal's title and hide what follows.
const hostile = "done\x1b[2J\x1b]0;pwned\a\u009b31m\r\nFAKE LINE\x7f\u202e"

// hostileFake serves a pod whose container wrote hostile text into every
// field the CLI prints: its termination message, a probe's answer, an
// event, its log, a rejected manifest's error.
func hostileFake(t *testing.T) string {
	t.Helper()
	old := now
	now = func() time.Time { return t0 }
	t.Cleanup(func() { now = old })
	logDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(logDir, "main"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, "main", "0.log"), []byte("2026-11-27T11:59:40Z stdout F "+hostile+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := sync.NewHistory()
	h.Add(sync.Event{Time: t0.Add(-time.Minute), Type: sync.EventContainerExited, Pod: "default/evil-cp1", Container: "main", Message: "exit code 1: " + hostile})
	return serveState(t, &fakeState{history: h, pods: []sync.PodStatus{{
		Namespace: "default", Name: "evil-cp1", UID: "0123456789abcdef0123456789abcdef", Hash: "0123456789abcdef0123456789abcdef",
		File: "/etc/kubernetes/manifests/evil.yaml", Phase: "Running", Reason: "CrashLoopBackOff", SandboxID: "aaaabbbbccccdddd",
		Created: t0.Add(-time.Hour), SyncError: "start main: " + hostile, ManifestError: "manifest evil.yaml: line 3: " + hostile,
		Containers: []sync.ContainerStatus{{Name: "main", ID: "c1", Image: "busybox:1.36", State: "Terminated", Reason: "Error",
			Message: hostile, ExitCode: 1, FinishedAt: t0.Add(-time.Minute), LogPath: filepath.Join(logDir, "main", "0.log"),
			Probes: []sync.ProbeResult{{Kind: "readiness", Message: "HTTP 500: " + hostile, ConsecutiveFailures: 3}}}},
	}}, manifests: []sync.ManifestStatus{{File: "/etc/kubernetes/manifests/evil.yaml", Error: "manifest evil.yaml: line 3: " + hostile}}})
}

func TestTextAContainerControlsIsPrintedEscaped(t *testing.T) {
	old := waitPoll
	waitPoll = 5 * time.Millisecond
	t.Cleanup(func() { waitPoll = old })
	sock := hostileFake(t)
	// escaped is how the hostile text starts once escaped; multi-line
	// blocks (a manifest's error, a log tail) keep its newline.
	const escaped = `done\x1b[2J\x1b]0;pwned\a\u009b31m`
	for _, tc := range []struct {
		name  string
		args  []string
		lines int // how often the escaped text must show
	}{
		{"inspect escapes the termination message, the probe's answer and the errors", []string{"inspect", "evil"}, 4},
		{"events escape the event's message", []string{"events"}, 1},
		{"ps escapes the rejected manifest's error", []string{"ps"}, 1},
		{"wait escapes the report, the events and the log tail", []string{"wait", "evil", "--for=ready", "--timeout=20ms"}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, _ := runCLI(append([]string{tc.args[0], "--api-socket", sock}, tc.args[1:]...)...)
			out += errOut
			if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' || r >= 0x7f && r <= 0x9f || r == 0xfffd }); i >= 0 {
				t.Errorf("raw control character %q in output:\n%s", out[i:min(i+8, len(out))], out)
			}
			if strings.Contains(out, "\nFAKE LINE") {
				t.Errorf("the container started a line of its own:\n%s", out)
			}
			if n := strings.Count(out, escaped); n != tc.lines {
				t.Errorf("the escaped text shows %d times, want %d:\n%s", n, tc.lines, out)
			}
		})
	}
}

func TestJSONOutputEscapesC1AndDEL(t *testing.T) {
	sock := hostileFake(t)
	out, _, err := runCLI("inspect", "--api-socket", sock, "evil", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out, "\x1b\x7f\u009b\a\u202e") {
		t.Errorf("raw control characters in JSON output:\n%s", out)
	}
	if !strings.Contains(out, `done\u001b[2J\u001b]0;pwned\u0007\u009b31m\r\nFAKE LINE\u007f\u202e`) {
		t.Errorf("JSON output lacks the escaped message:\n%s", out)
	}
}
