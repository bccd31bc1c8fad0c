package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// bosun diff against a real containerd: what a sync would do with the
// default directory (nothing) and with another one (create, replace with
// the changed image line, remove), also after a restart of bosun, when the
// running version's spec comes from the sandbox's annotation alone.
func TestDiff(t *testing.T) {
	e := newEnv(t)
	e.write("web.yaml", sleeperPod("web", "Always"))
	e.write("old.yaml", sleeperPod("old", "Always"))
	e.startBosun()
	e.waitRunning("web", "main")
	e.waitRunning("old", "main")

	out, err := e.cliErr("diff")
	if code := exitCodeOf(t, err); code != 0 || out != "no changes\n" {
		t.Fatalf("diff of what runs: exit %d, %q; want 0 and no changes", code, out)
	}

	next := filepath.Join(t.TempDir(), "next")
	if err := os.MkdirAll(next, 0o700); err != nil {
		t.Fatal(err)
	}
	const newImage = "docker.io/library/busybox:next"
	for name, content := range map[string]string{
		"web.yaml": strings.Replace(sleeperPod("web", "Always"), busybox, newImage, 1),
		"db.yaml":  sleeperPod("db", "Always"),
	} {
		if err := os.WriteFile(filepath.Join(next, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		out, err := e.cliErr("diff", next)
		if code := exitCodeOf(t, err); code != 1 {
			t.Errorf("%s: diff exit %d, want 1:\n%s", when, code, out)
		}
		for _, want := range []string{
			"+ create default/" + e.podName("db") + " (db.yaml)\n",
			"~ replace default/" + e.podName("web") + " (web.yaml)\n",
			"    -  image: " + busybox + "\n",
			"    +  image: " + newImage + "\n",
			"- remove default/" + e.podName("old") + " (no manifest asks for it; was old.yaml)\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: diff lacks %q:\n%s", when, want, out)
			}
		}
		if strings.Contains(out, "spec unknown") {
			t.Errorf("%s: running spec unknown:\n%s", when, out)
		}
	}
	check("first run")
	e.stopBosun(syscall.SIGTERM)
	e.startBosun()
	check("after a restart")

	// Nothing was done: the pods that ran still run, and the default
	// directory still has nothing to change.
	if e.pod("old").running("main") == nil || e.pod("db").ready() != nil {
		t.Errorf("diff changed what runs")
	}
	if out, err := e.cliErr("diff"); exitCodeOf(t, err) != 0 {
		t.Errorf("diff of what runs after the restart: %q", out)
	}
}
