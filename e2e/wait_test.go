package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exitCodeOf is the exit code of a finished command's error (0 for nil).
func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if !errors.As(err, &ee) {
		t.Fatalf("command did not run: %v", err)
	}
	return ee.ExitCode()
}

func TestWaitForPods(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	port := freePort(t)
	e.write("ready.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: ready
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "sleep 1; mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:%d -h /tmp/www"]
    readinessProbe:
      httpGet: {host: 127.0.0.1, path: /, port: %[2]d}
      periodSeconds: 1
`, busybox, port))
	e.write("stuck.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: stuck
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "for i in $(seq 1 25); do echo stuck line $i; done; exec sleep 3600"]
    readinessProbe:
      exec: {command: ["test", "-f", "/tmp/never"]}
      periodSeconds: 1
`, busybox))

	// A pod that does not exist yet may appear while wait waits.
	late := exec.Command(bosunBin, e.cliArgs([]string{"wait", "late", "--for=running", "--timeout", "5m"})...)
	var lateOut bytes.Buffer
	late.Stdout, late.Stderr = &lateOut, &lateOut
	late.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := late.Start(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if out := e.cli("wait", "ready", "--for=ready", "--timeout", "2m"); out != "pod default/"+e.podName("ready")+" is ready\n" {
		t.Errorf("wait ready: %q", out)
	}
	t.Logf("ready after %v", time.Since(start))

	// What the report shows must be there first: all 25 lines logged, a
	// readiness result (a loaded machine may lag behind the ready pod).
	eventually(t, time.Minute, "the stuck pod's 25 lines and a failed readiness probe", func() bool {
		c := e.psPods()[e.podName("stuck")].Containers
		failing := len(c) == 1 && slices.ContainsFunc(c[0].Probes, func(p probeResult) bool { return p.Kind == "readiness" && !p.Success })
		return failing && strings.Contains(e.logOf("stuck", "main"), "stuck line 25\n")
	})
	out, err := e.cliErr("wait", "stuck", "nothere", "--for=ready", "--timeout", "4s")
	if code := exitCodeOf(t, err); code != 1 {
		t.Errorf("wait stuck: exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"pod default/" + e.podName("stuck") + " is not ready: Running (phase Running)",
		"container main: Running, ready false, restarts 0, readiness probe failing",
		"ContainerStarted  main",
		"log of container main (last 20 lines):\n    stuck line 6\n",
		"    stuck line 25\n",
		"pod nothere is not ready: not found (bosun ps lists the pods)",
		"bosun: timed out after 4s: 2 not ready",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("wait stuck: output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "stuck line 5\n") {
		t.Errorf("wait stuck: more than 20 log lines:\n%s", out)
	}

	e.write("late.yaml", sleeperPod("late", "Always"))
	if err := late.Wait(); err != nil || lateOut.String() != "pod default/"+e.podName("late")+" is running\n" {
		t.Errorf("wait for a pod written later: %v %q", err, lateOut.String())
	}
	if out := e.cli("wait", "--all", "--for=running", "--timeout", "2m"); strings.Count(out, " is running\n") != 3 {
		t.Errorf("wait --all --for=running: %q", out)
	}

	e.remove("ready.yaml")
	if out := e.cli("wait", "ready", "--for=deleted", "--timeout", "2m"); out != "pod ready is deleted\n" {
		t.Errorf("wait --for=deleted: %q", out)
	}
	if p := e.pod("ready"); len(p.sandboxes) != 0 {
		t.Errorf("the pod is deleted for wait, but its sandboxes remain: %v", p.sandboxes)
	}
}

// newCIEnv is newEnv for a test of examples/ci/run.sh, whose output it
// logs once more after the env's dump when the test fails, so that the
// end of a failing CI log says what run.sh printed.
func newCIEnv(t *testing.T) (*env, *string) {
	t.Helper()
	out := new(string)
	t.Cleanup(func() { // runs after newEnv's cleanup and dump
		if t.Failed() {
			t.Logf("run.sh printed:\n%s", *out)
		}
	})
	return newEnv(t), out
}

// runCIExample runs examples/ci/run.sh against the test's containerd, with
// the pods of podsDir, and returns its output (also kept in *keep), exit
// code and web port.
func runCIExample(t *testing.T, e *env, keep *string, podsDir, timeout string) (string, int, int) {
	t.Helper()
	work := filepath.Join(t.TempDir(), "ci")
	t.Cleanup(func() { unmountBelow(filepath.Join(work, "root")) })
	webPort := freePort(t)
	cmd := exec.Command("../examples/ci/run.sh")
	cmd.Env = append(os.Environ(),
		"CONTAINERD_ADDRESS="+filepath.Join(containerdDir, "containerd.sock"),
		"BOSUN_BIN="+bosunBin, "IMPORT_IMAGES=0", "BOSUN_CI_DIR="+work, "PODS_DIR="+podsDir,
		fmt.Sprintf("DB_PORT=%d", freePort(t)), fmt.Sprintf("WEB_PORT=%d", webPort),
		"BOSUN_NODE="+e.node, "WAIT_TIMEOUT="+timeout)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("run.sh took %v", time.Since(start))
	*keep = string(out)
	return string(out), exitCodeOf(t, err), webPort
}

func TestCIExample(t *testing.T) {
	e, keep := newCIEnv(t) // for its node name and its cleanup of pods left behind
	out, code, port := runCIExample(t, e, keep, "examples/ci/pods", "3m")
	if code != 0 {
		t.Fatalf("run.sh: exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"pod default/" + e.podName("db") + " is ready\n",
		"pod default/" + e.podName("web") + " is ready\n",
		fmt.Sprintf("==> check http://127.0.0.1:%d/\ncheck: web: the database has 3 rows\n", port),
		"==> tear down\nPASS\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("run.sh output lacks %q:\n%s", want, out)
		}
	}
	for _, name := range []string{"db", "web"} {
		if p := e.pod(name); len(p.sandboxes) != 0 {
			t.Errorf("run.sh left pod %s behind: %v", name, p.sandboxes)
		}
	}
}

func TestCIExampleReportsAPodThatIsNotReady(t *testing.T) {
	e, keep := newCIEnv(t)
	pods := t.TempDir()
	for _, name := range []string{"db.yaml", "web.yaml"} {
		b, err := os.ReadFile(filepath.Join("../examples/ci/pods", name))
		if err != nil {
			t.Fatal(err)
		}
		// The web pod serves no /healthz: its readiness probe never passes.
		b = bytes.ReplaceAll(b, []byte("path: /healthz"), []byte("path: /missing"))
		if err := os.WriteFile(filepath.Join(pods, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Long enough for db to be ready and web to serve on a loaded machine:
	// only web's missing /healthz keeps it from ready.
	out, code, port := runCIExample(t, e, keep, pods, "30s")
	if code != 1 {
		t.Fatalf("run.sh: exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"pod default/" + e.podName("web") + " is not ready: Running (phase Running)",
		"readiness probe failing",
		// stdout and stderr (wget's errors) reach the log through two pipes,
		// so the first line may come after an error line.
		"log of container web (last 20 lines):\n",
		"    web: waiting for the database on 127.0.0.1:",
		fmt.Sprintf("    web: serving on 127.0.0.1:%d\n", port),
		"bosun: timed out after 30s: 1 not ready",
		"FAIL (exit 1)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("run.sh output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, e.podName("db")+" is not ready") || strings.Contains(out, "==> check") {
		t.Errorf("only web should miss, and no check should run:\n%s", out)
	}
	for _, name := range []string{"db", "web"} {
		if p := e.pod(name); len(p.sandboxes) != 0 {
			t.Errorf("run.sh left pod %s behind: %v", name, p.sandboxes)
		}
	}
}
