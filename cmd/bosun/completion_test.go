package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCompletionScripts(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash": "complete -o default -F __start_bosun bosun",
		"zsh":  "#compdef bosun",
		"fish": "complete -c bosun",
	} {
		out, _, err := runCLI("completion", shell)
		if err != nil || !strings.Contains(out, marker) {
			t.Errorf("completion %s: %v, no %q in %d bytes", shell, err, marker, len(out))
		}
	}
	for _, args := range [][]string{{"completion", "tcsh"}, {"completion"}} {
		if _, _, err := runCLI(args...); err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// complete runs cobra's hidden completion command as a shell would and
// returns the offered words (without descriptions) and the directive line.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	out, errOut, err := runCLI(append([]string{"__complete"}, args...)...)
	if err != nil {
		t.Fatalf("__complete %v: %v %s", args, err, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var words []string
	for _, l := range lines[:len(lines)-1] {
		w, _, _ := strings.Cut(l, "\t")
		words = append(words, w)
	}
	return words, lines[len(lines)-1]
}

func TestCompletionOfPodNamesAsksTheDaemon(t *testing.T) {
	sock := serveFake(t, t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "--api-socket", sock, ""}, "etcd-cp1 crashy-cp1"},
		{[]string{"inspect", "--api-socket", sock, "e"}, "etcd-cp1"},
		{[]string{"inspect", "--api-socket", sock, "kube-system/"}, "kube-system/etcd-cp1"},
		{[]string{"wait", "etcd-cp1", "--api-socket", sock, "c"}, "crashy-cp1"},
		{[]string{"inspect", "etcd-cp1", "--api-socket", sock, ""}, ""}, // one POD only
		{[]string{"logs", "crashy", "--api-socket", sock, "-c", ""}, "main side"},
		{[]string{"wait", "--for", ""}, "ready running deleted"},
		{[]string{"ps", "-o", ""}, "wide json yaml"},
	} {
		words, directive := complete(t, tc.args...)
		if got := strings.Join(words, " "); got != tc.want || directive != ":4" {
			t.Errorf("%v: %q %s, want %q :4 (no file completion)", tc.args, got, directive, tc.want)
		}
	}
	// The description says the namespace and the status.
	out, _, _ := runCLI("__complete", "logs", "--api-socket", sock, "crashy")
	if !strings.Contains(out, "crashy-cp1\tdefault CrashLoopBackOff\n") {
		t.Errorf("completion with description: %q", out)
	}
}

func TestCompletionWithoutDaemonOffersNothingSilently(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.sock")
	out, errOut, err := runCLI("__complete", "logs", "--api-socket", missing, "")
	if err != nil || out != ":4\n" {
		t.Errorf("completion without bosun: %q %v", out, err)
	}
	if strings.Contains(errOut, "not running") {
		t.Errorf("completion printed the dial error: %q", errOut)
	}
}
