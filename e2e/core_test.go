package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/runtime"
)

const busybox = "docker.io/library/busybox:1.36"

// webPod is a hostNetwork pod serving "hello <greeting>" on 127.0.0.1:port.
func webPod(name string, port int, greeting string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels:
    app: web
  annotations:
    example.com/owner: e2e
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: %s
    imagePullPolicy: IfNotPresent
    workingDir: /tmp
    command: ["sh", "-c"]
    args:
    - mkdir -p www && echo "hello $(GREETING)" > www/index.html && echo serving && exec httpd -f -p 127.0.0.1:%d -h /tmp/www
    env:
    - name: GREETING
      value: %q
    ports:
    - containerPort: %d
`, name, busybox, port, greeting, port)
}

// onePod is a hostNetwork pod of one busybox container, "main", that runs
// command, with a restart policy and a grace period.
func onePod(name, policy string, grace int, command ...string) string {
	quoted := make([]string, len(command))
	for i, c := range command {
		quoted[i] = strconv.Quote(c)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  hostNetwork: true
  restartPolicy: %s
  terminationGracePeriodSeconds: %d
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: [%s]
`, name, policy, grace, busybox, strings.Join(quoted, ", "))
}

// sleeperPod runs one container that sleeps, with the given restart policy.
func sleeperPod(name, policy string) string {
	return onePod(name, policy, 1, "sleep", "3600")
}

func TestStartupErrorsNameTheEndpoint(t *testing.T) {
	dir := t.TempDir()
	run := func(ep string) (string, int) {
		cmd := exec.Command(bosunBin, "run", "--container-runtime-endpoint", ep,
			"--pod-manifest-path", dir, "--root-dir", filepath.Join(dir, "root"), "--pod-logs-dir", filepath.Join(dir, "logs"))
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return strings.TrimSpace(string(out)), code
	}

	missing := "unix://" + filepath.Join(dir, "missing.sock")
	out, code := run(missing)
	if code != 1 || strings.Count(out, "\n") != 0 || !strings.Contains(out, missing) || !strings.Contains(out, "no such file") {
		t.Errorf("missing socket: exit %d, output %q; want exit 1 and one line naming %s", code, out, missing)
	}

	// A gRPC server without the CRI services is not a CRI v1 runtime.
	sock := filepath.Join(dir, "notcri.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()
	out, code = run("unix://" + sock)
	if code != 1 || strings.Count(out, "\n") != 0 || !strings.Contains(out, sock) || !strings.Contains(out, "not a CRI v1 runtime") {
		t.Errorf("non-CRI socket: exit %d, output %q; want exit 1 and one line saying it is not a CRI v1 runtime", code, out)
	}
}

func TestManifestBecomesRunningPod(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	port := freePort(t)
	e.write("web.yaml", webPod("web", port, "e2e world"))
	c := e.waitRunning("web", "web")

	p := e.pod("web")
	sb := p.ready()
	if sb.Metadata.Name != e.podName("web") || sb.Metadata.Namespace != "default" || sb.Metadata.Attempt != 0 {
		t.Errorf("sandbox metadata = %v, want name %s in default, attempt 0", sb.Metadata, e.podName("web"))
	}
	uid := sb.Metadata.Uid
	if len(uid) != 32 {
		t.Errorf("uid %q: want 32 hex characters", uid)
	}
	wantLabels := map[string]string{
		"app": "web", runtime.LabelManaged: "true", runtime.LabelPodName: e.podName("web"),
		runtime.LabelPodNamespace: "default", runtime.LabelPodUID: uid,
	}
	for k, v := range wantLabels {
		if sb.Labels[k] != v {
			t.Errorf("sandbox label %s = %q, want %q", k, sb.Labels[k], v)
		}
	}
	for k, v := range map[string]string{
		"example.com/owner": "e2e", runtime.AnnotationConfigHash: uid, runtime.AnnotationConfigSource: "file",
		runtime.AnnotationManifest: filepath.Join(e.dir, "web.yaml"),
	} {
		if sb.Annotations[k] != v {
			t.Errorf("sandbox annotation %s = %q, want %q", k, sb.Annotations[k], v)
		}
	}
	if c.Labels[runtime.LabelContainerName] != "web" || c.Labels[runtime.LabelPodUID] != uid || c.Labels[runtime.LabelManaged] != "true" {
		t.Errorf("container labels = %v", c.Labels)
	}
	for k, v := range map[string]string{runtime.AnnotationRestartCount: "0", runtime.AnnotationTermGracePeriod: "2", runtime.AnnotationTermMessagePath: "/dev/termination-log"} {
		if c.Annotations[k] != v {
			t.Errorf("container annotation %s = %q, want %q", k, c.Annotations[k], v)
		}
	}

	var body string
	eventually(t, 30*time.Second, "the page on 127.0.0.1", func() bool {
		body, _ = get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		return body != ""
	})
	if body != "hello e2e world\n" {
		t.Errorf("page = %q, want %q (env and $(VAR) expansion)", body, "hello e2e world\n")
	}

	logPath := filepath.Join(e.logsDir, "default_"+e.podName("web")+"_"+uid, "web", "0.log")
	eventually(t, 30*time.Second, "the container log "+logPath, func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), " stdout F serving")
	})
	if st := status(t, c.Id); st.LogPath != logPath {
		t.Errorf("CRI log path = %q, want %q", st.LogPath, logPath)
	}
}

func TestRestartPolicies(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	crasher := func(name, policy string, containers ...string) string {
		s := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  hostNetwork: true\n  restartPolicy: %s\n  terminationGracePeriodSeconds: 1\n  containers:\n", name, policy)
		for _, c := range containers {
			n, code, _ := strings.Cut(c, "=")
			s += fmt.Sprintf("  - name: %s\n    image: %s\n    imagePullPolicy: IfNotPresent\n    command: [\"sh\", \"-c\", \"echo run; exit %s\"]\n", n, busybox, code)
		}
		return s
	}
	e.write("always.yaml", crasher("always", "Always", "fail=3"))
	e.write("onfailure.yaml", crasher("onfailure", "OnFailure", "ok=0", "fail=1"))
	e.write("never.yaml", crasher("never", "Never", "fail=2"))

	// The Always crasher is the clock: after its third restart, everyone had
	// several chances to restart.
	eventually(t, 2*time.Minute, "the Always container's third restart", func() bool {
		c := e.pod("always").container("fail")
		return c != nil && c.Metadata.Attempt >= 3 && c.State == runtimeapi.ContainerState_CONTAINER_EXITED
	})
	// attempt returns the newest attempt of a container and the exit code of
	// its newest exited instance.
	attempt := func(podName, name string) (uint32, int32) {
		p := e.pod(podName)
		c := p.newest(name) // the Never pod, done, has its sandbox stopped
		if c == nil {
			t.Fatalf("pod %s has no container %s", podName, name)
		}
		code, newest := int32(-1), int64(-1)
		for _, i := range p.containers {
			if i.Metadata.Name != name || i.State != runtimeapi.ContainerState_CONTAINER_EXITED {
				continue
			}
			if st := statusOfListed(t, i.Id); st != nil && st.FinishedAt > newest {
				code, newest = st.ExitCode, st.FinishedAt
			}
		}
		return c.Metadata.Attempt, code
	}
	// What must have happened by now may lag on a loaded machine: wait for
	// it (the exits that decide, the OnFailure restart), then check that
	// nothing else happened.
	eventually(t, time.Minute, "the exits of the OnFailure and Never containers and the OnFailure restart", func() bool {
		_, okCode := attempt("onfailure", "ok")
		a, failCode := attempt("onfailure", "fail")
		_, neverCode := attempt("never", "fail")
		return okCode >= 0 && failCode >= 0 && a >= 1 && neverCode >= 0
	})
	if a, code := attempt("onfailure", "ok"); a != 0 || code != 0 {
		t.Errorf("OnFailure container that exited 0: attempt %d exit %d, want never restarted", a, code)
	}
	if a, code := attempt("onfailure", "fail"); a < 1 || code != 1 {
		t.Errorf("OnFailure container that exited 1: attempt %d exit %d, want restarted", a, code)
	}
	if a, code := attempt("never", "fail"); a != 0 || code != 2 {
		t.Errorf("Never container: attempt %d exit %d, want never restarted", a, code)
	}

	// CrashLoopBackOff: first restart at once, then at least 1 s (the
	// initial backoff) and then 2 s after each exit.
	// A restart that is due when bosun sees the exit starts the new instance
	// before it collects the oldest one: for a moment there are three.
	var p pod
	eventually(t, 30*time.Second, "pod always with the running or newest one and the previous one at most", func() bool {
		p = e.pod("always")
		return len(p.containers) <= 2
	})
	byAttempt := map[uint32]*runtimeapi.ContainerStatus{}
	for _, c := range p.containers {
		if st := statusOfListed(t, c.Id); st != nil {
			byAttempt[c.Metadata.Attempt] = st
		}
	}
	for n, minGap := range map[uint32]time.Duration{2: time.Second, 3: 2 * time.Second} {
		prev, cur := byAttempt[n-1], byAttempt[n]
		if prev == nil || cur == nil {
			continue // collected as garbage; older ones are removed
		}
		gap := time.Duration(cur.StartedAt - prev.FinishedAt)
		if gap < minGap {
			t.Errorf("restart %d came %v after the exit, want at least %v of backoff", n, gap, minGap)
		}
	}
	uid := p.ready().Metadata.Uid
	logDir := filepath.Join(e.logsDir, "default_"+e.podName("always")+"_"+uid, "fail")
	// Each attempt has its own log file; bosun keeps the newest and the one
	// before (for logs --previous).
	eventually(t, 30*time.Second, "the newest and the previous attempt's own log files", func() bool {
		c := e.pod("always").container("fail")
		for _, n := range []uint32{c.Metadata.Attempt - 1, c.Metadata.Attempt} {
			b, err := os.ReadFile(filepath.Join(logDir, fmt.Sprintf("%d.log", n)))
			if err != nil || !strings.Contains(string(b), "stdout F run") {
				return false
			}
		}
		return true
	})
}

func TestSemanticChangeReplacesPodOtherChangesDoNothing(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	port := freePort(t)
	manifest := webPod("web", port, "one")
	e.write("web.yaml", manifest)
	c1 := e.waitRunning("web", "web")
	sb1 := e.pod("web").ready()

	// Whitespace, comments, key order, explicit defaults, touch and rename.
	mark := len(e.log())
	reordered := "# a comment\n" + strings.Replace(manifest, "apiVersion: v1\nkind: Pod\n", "kind: Pod\napiVersion:   v1\n", 1) +
		"  restartPolicy: Always\n  dnsPolicy: ClusterFirst\n\n"
	e.write("web.yaml", reordered)
	now := time.Now()
	if err := os.Chtimes(filepath.Join(e.dir, "web.yaml"), now, now); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(e.dir, "web.yaml"), filepath.Join(e.dir, "renamed.yml")); err != nil {
		t.Fatal(err)
	}
	e.waitRelists(mark, 3)
	if calls := mutatingCalls(e.logSince(mark)); len(calls) > 0 {
		t.Errorf("a change without meaning made CRI calls %v", calls)
	}
	if c := e.pod("web").running("web"); c == nil || c.Id != c1.Id {
		t.Fatalf("container changed after a change without meaning: %v, want %s", c, c1.Id)
	}

	// A semantic change replaces the whole pod: the old one stopped first.
	mark = len(e.log())
	e.write("renamed.yml", webPod("web", port, "two"))
	eventually(t, time.Minute, "the replaced pod serving the new page", func() bool {
		b, _ := get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		return b == "hello two\n"
	})
	sb2 := e.pod("web").ready()
	if sb2 == nil || sb2.Id == sb1.Id || sb2.Metadata.Uid == sb1.Metadata.Uid {
		t.Fatalf("after a semantic change: sandbox %v, want a new sandbox with a new uid", sb2)
	}
	// The old sandbox is removed once the new containers started.
	eventually(t, time.Minute, "only the new sandbox left, without the old container", func() bool {
		p := e.pod("web")
		return len(p.sandboxes) == 1 && !slices.ContainsFunc(p.containers, func(c *runtimeapi.Container) bool { return c.Id == c1.Id })
	})
	// Every old container and the old sandbox stopped before a new
	// container was created.
	calls := mutatingCalls(e.logSince(mark))
	if create := slices.Index(calls, "CreateContainer"); create < 0 || slices.Index(calls[create:], "StopContainer") >= 0 || slices.Index(calls[create:], "StopPodSandbox") >= 0 {
		t.Errorf("calls %v: want StopContainer and StopPodSandbox of the old pod before CreateContainer of the new one", calls)
	}
}

func TestDeletedManifestStopsPodWithinGrace(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("term.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: term
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  containers:
  - name: polite
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'echo got SIGTERM; exit 0' TERM; echo up; while true; do sleep 0.1; done"]
  - name: stubborn
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'echo ignoring SIGTERM' TERM; echo up; while true; do sleep 0.1; done"]
`, busybox))
	polite := e.waitRunning("term", "polite")
	stubborn := e.waitRunning("term", "stubborn")
	uid := e.pod("term").ready().Metadata.Uid
	dir := filepath.Join(e.logsDir, "default_"+e.podName("term")+"_"+uid)
	logs := map[string]func() string{"polite": keepLog(t, filepath.Join(dir, "polite", "0.log")), "stubborn": keepLog(t, filepath.Join(dir, "stubborn", "0.log"))}
	logOf := func(name string) string { return logs[name]() }
	eventually(t, 30*time.Second, "both containers up", func() bool {
		return strings.Contains(logOf("polite"), "F up") && strings.Contains(logOf("stubborn"), "F up")
	})
	// Read the exit states before the removal makes them disappear.
	done := make(chan map[string]*runtimeapi.ContainerStatus, 1)
	go func() {
		seen := map[string]*runtimeapi.ContainerStatus{}
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) && len(seen) < 2 {
			for _, id := range []string{polite.Id, stubborn.Id} {
				if st, err := cri.ContainerStatus(t.Context(), id); err == nil && st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
					seen[id] = st
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		done <- seen
	}()
	removed := time.Now()
	e.remove("term.yaml")
	eventually(t, time.Minute, "the pod's sandbox removed", func() bool {
		return len(e.pod("term").sandboxes) == 0
	})
	// The stubborn container holds the pod for its whole grace period.
	if took := time.Since(removed); took < 2*time.Second {
		t.Errorf("pod gone %v after the manifest, before its 2 s grace period ended", took)
	}
	seen := <-done
	if st := seen[polite.Id]; st != nil && st.ExitCode != 0 {
		t.Errorf("polite container exit code %d, want 0 after SIGTERM", st.ExitCode)
	}
	if st := seen[stubborn.Id]; st != nil && st.ExitCode != 137 {
		t.Errorf("stubborn container exit code %d, want 137 (SIGKILL after the grace period)", st.ExitCode)
	}
	if !strings.Contains(logOf("polite"), "got SIGTERM") || !strings.Contains(logOf("stubborn"), "ignoring SIGTERM") {
		t.Errorf("logs do not show SIGTERM: polite %q, stubborn %q", logOf("polite"), logOf("stubborn"))
	}
	if len(e.pod("term").containers) != 0 {
		t.Errorf("containers left after removal")
	}
}

func TestBosunRestartAdoptsPods(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("keep.yaml", sleeperPod("keep", "Always"))
	e.write("gone.yaml", sleeperPod("gone", "Always"))
	e.write("crash.yaml", onePod("crash", "Always", 30, "sh", "-c", "sleep 0.5; exit 1"))
	keep := e.waitRunning("keep", "main")
	e.waitRunning("gone", "main")
	eventually(t, time.Minute, "the crashing container restarted", func() bool {
		c := e.pod("crash").container("main")
		return c != nil && c.Metadata.Attempt >= 1
	})

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		e.stopBosun(sig)
		if c := e.pod("keep").running("main"); c == nil || c.Id != keep.Id {
			t.Fatalf("after %v of bosun the pod is not running as before: %v", sig, c)
		}
		crashBefore := e.pod("crash").container("main").Metadata.Attempt
		mark := len(e.log())
		e.startBosun()
		e.waitRelists(mark, 3)
		calls := mutatingCalls(e.logSince(mark))
		for _, c := range calls {
			// Only the crash loop may act: its restarts create and start.
			if c != "CreateContainer" && c != "StartContainer" && c != "RemoveContainer" {
				t.Errorf("after a restart (%v) bosun made a %s call", sig, c)
			}
		}
		if c := e.pod("keep").running("main"); c == nil || c.Id != keep.Id || c.Metadata.Attempt != 0 {
			t.Fatalf("after a restart (%v) of bosun: %v, want the same container %s", sig, c, keep.Id)
		}
		eventually(t, time.Minute, "the crash loop continuing its count", func() bool {
			c := e.pod("crash").container("main")
			return c != nil && c.Metadata.Attempt > crashBefore
		})
	}

	// Changes made while bosun is down are applied when it is back.
	e.stopBosun(syscall.SIGKILL)
	e.remove("gone.yaml")
	e.write("new.yaml", sleeperPod("new", "Always"))
	e.startBosun()
	e.waitRunning("new", "main")
	eventually(t, time.Minute, "the pod of the deleted manifest removed", func() bool {
		return len(e.pod("gone").sandboxes) == 0
	})
	if c := e.pod("keep").running("main"); c == nil || c.Id != keep.Id {
		t.Errorf("unchanged pod was touched: %v", c)
	}
}

func TestBrokenManifestKeepsLastGoodPod(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	good := sleeperPod("steady", "Always")
	e.write("steady.yaml", good)
	c := e.waitRunning("steady", "main")

	mark := len(e.log())
	broken := strings.Replace(good, "    command:", "    comand:", 1)
	e.write("steady.yaml", broken)
	eventually(t, 30*time.Second, "the error in bosun's log", func() bool {
		return strings.Contains(e.logSince(mark), "manifest rejected")
	})
	l := e.logSince(mark)
	if !strings.Contains(l, filepath.Join(e.dir, "steady.yaml")) || !strings.Contains(l, `line 13: spec.containers[0].comand: unknown field`) {
		t.Errorf("error does not name the file and the field:\n%s", l)
	}
	// Other pods are unaffected: a new one starts while the broken one stays.
	e.write("other.yaml", sleeperPod("other", "Always"))
	e.waitRunning("other", "main")
	e.waitRelists(mark, 3)
	if got := e.pod("steady").running("main"); got == nil || got.Id != c.Id {
		t.Fatalf("the pod of the broken manifest is not running as before: %v", got)
	}

	// Still kept by a new bosun that never saw the good version.
	e.stopBosun(syscall.SIGTERM)
	mark = len(e.log())
	e.startBosun()
	e.waitRelists(mark, 3)
	if calls := mutatingCalls(e.logSince(mark)); len(calls) > 0 {
		t.Errorf("a restarted bosun acted on the pod of a broken manifest: %v", calls)
	}
	if got := e.pod("steady").running("main"); got == nil || got.Id != c.Id {
		t.Fatalf("after a bosun restart the pod of the broken manifest is not running: %v", got)
	}
	if strings.Count(e.logSince(mark), "manifest rejected") != 1 {
		t.Errorf("the error should be reported once per content:\n%s", e.logSince(mark))
	}

	// Fixed with the same content: nothing happens.
	mark = len(e.log())
	e.write("steady.yaml", good)
	eventually(t, 30*time.Second, "the fix noticed", func() bool {
		return strings.Contains(e.logSince(mark), "manifest fixed")
	})
	e.waitRelists(mark, 3)
	if calls := mutatingCalls(e.logSince(mark)); len(calls) > 0 {
		t.Errorf("fixing the manifest back made CRI calls %v", calls)
	}
}
