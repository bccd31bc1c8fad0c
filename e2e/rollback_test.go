package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/runtime"
)

// apiServerPod is a kube-apiserver-like pod: httpd on 127.0.0.1:port, Ready
// while /readyz answers 200. script runs before httpd (a "bad flag" leaves
// /readyz out or exits); version tells versions apart.
func apiServerPod(name string, port int, version, script string, annotations ...string) string {
	ann := ""
	for i := 0; i+1 < len(annotations); i += 2 {
		ann += fmt.Sprintf("    %s: %q\n", annotations[i], annotations[i+1])
	}
	if ann != "" {
		ann = "  annotations:\n" + ann
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
  namespace: kube-system
%[2]s  labels: {component: kube-apiserver, tier: control-plane}
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  terminationGracePeriodSeconds: 1
  containers:
  - name: kube-apiserver
    image: %[3]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /tmp/www && echo ok > /tmp/www/readyz && %[6]s exec httpd -f -p 127.0.0.1:%[4]d -h /tmp/www"]
    env: [{name: VERSION, value: %[5]q}]
    readinessProbe:
      httpGet: {host: 127.0.0.1, path: /readyz, port: %[4]d}
      periodSeconds: 1
      failureThreshold: 1
`, name, ann, busybox, port, version, script)
}

// The script of a version whose new flag breaks readiness, and of one that
// exits at once.
const (
	notReadyScript = "rm /tmp/www/readyz &&"
	crashScript    = "echo 'unknown flag: --bad-flag' >&2 && exit 1 &&"
)

// hashOf is the spec hash bosun gives a manifest on this test's node: the
// pod's UID, so the sandbox's kubernetes.io/config.hash annotation.
func (e *env) hashOf(content string) string {
	e.t.Helper()
	sp, err := manifest.Load("x.yaml", []byte(content), e.node)
	if err != nil {
		e.t.Fatal(err)
	}
	return sp.Hash
}

// sandboxOf returns the ready sandbox of pod name that runs hash, with its
// container running, or nil.
func (e *env) sandboxOf(name, hash string) *runtimeapi.PodSandbox {
	p := e.pod(name)
	sb := p.ready()
	if sb == nil || sb.Annotations[runtime.AnnotationConfigHash] != hash || p.running("kube-apiserver") == nil {
		return nil
	}
	return sb
}

// sandboxesOf lists every sandbox of pod name that ran hash.
func (e *env) sandboxesOf(name, hash string) []string {
	var ids []string
	for _, sb := range e.pod(name).sandboxes {
		if sb.Annotations[runtime.AnnotationConfigHash] == hash {
			ids = append(ids, sb.Id)
		}
	}
	return ids
}

// inspect is what `bosun inspect -o json` says of pod name.
func (e *env) inspect(name string) *bosunv1.Pod {
	e.t.Helper()
	p, err := e.inspectErr(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) inspectErr(name string) (*bosunv1.Pod, error) {
	out, err := e.cliErr("inspect", "-o", "json", "kube-system/"+e.podName(name))
	if err != nil {
		return nil, fmt.Errorf("bosun inspect: %w: %s", err, out)
	}
	p := &bosunv1.Pod{}
	if err := protojson.Unmarshal(protoTimes([]byte(out)), p); err != nil {
		return nil, fmt.Errorf("inspect -o json: %w\n%s", err, out)
	}
	return p, nil
}

func (e *env) waitRollout(name, phase string, timeout time.Duration) *bosunv1.Pod {
	e.t.Helper()
	var p *bosunv1.Pod
	eventually(e.t, timeout, "rollout of "+name+" "+phase, func() bool {
		var err error
		p, err = e.inspectErr(name)
		return err == nil && p.GetRollout().GetPhase() == phase
	})
	return p
}

func (e *env) rollbacks(reason string) float64 {
	e.t.Helper()
	v, ok := value(scrape(e.t, e.httpAddr()), "bosun_rollbacks_total", map[string]string{"reason": reason})
	if !ok {
		e.t.Fatalf("no bosun_rollbacks_total{reason=%q} in /metrics", reason)
	}
	return v
}

// upgrade writes next over the running version of pod name and returns the
// new version's first sandbox, once it runs.
func (e *env) upgrade(name, next string) *runtimeapi.PodSandbox {
	e.t.Helper()
	e.write(name+".yaml", next)
	var sb *runtimeapi.PodSandbox
	eventually(e.t, time.Minute, "the new version's sandbox", func() bool {
		for _, s := range e.pod(name).sandboxes {
			if s.Annotations[runtime.AnnotationConfigHash] == e.hashOf(next) {
				sb = s
				return true
			}
		}
		return false
	})
	return sb
}

// waitBack waits until the old version hash of pod name runs again after a
// rollback from the new version's sandbox next, and returns the old
// version's sandbox and the time from next's creation to the start of the
// old version's container (the runtime's times: how late the test looks
// does not count).
func (e *env) waitBack(name, hash string, next *runtimeapi.PodSandbox, timeout time.Duration) (*runtimeapi.PodSandbox, time.Duration) {
	e.t.Helper()
	var back *runtimeapi.PodSandbox
	var c *runtimeapi.Container
	eventually(e.t, timeout, "v1 back", func() bool {
		back = e.sandboxOf(name, hash)
		c = e.pod(name).running("kube-apiserver")
		return back != nil && c != nil && c.PodSandboxId == back.Id
	})
	took := time.Unix(0, status(e.t, c.Id).StartedAt).Sub(time.Unix(0, next.CreatedAt))
	e.t.Logf("v2 created to v1 back running: %v", took)
	return back, took
}

// A new version of a kube-apiserver-like pod that never gets Ready is
// rolled back to the old version within deadline + grace + start; the file
// stays as written, the rollback holds, bosun ps, inspect, events and
// /metrics say so; a later edit is tried again.
func TestRollbackOfAVersionThatIsNeverReady(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	port := freePort(t)
	const deadline, grace, start = 5 * time.Second, time.Second, 10 * time.Second
	ann := []string{"bosun.dev/rollback", "true", "bosun.dev/progress-deadline", "5s"}
	v1 := apiServerPod("apiserver", port, "v1", "", ann...)
	v2 := apiServerPod("apiserver", port, "v2", notReadyScript, ann...)
	h1, h2 := e.hashOf(v1), e.hashOf(v2)
	e.write("apiserver.yaml", v1)
	first := e.waitRollout("apiserver", "Complete", time.Minute)
	if first.GetRollout().GetLastReadyHash() != h1 {
		t.Fatalf("after v1 was Ready the last Ready version is %q, want %s", first.GetRollout().GetLastReadyHash(), h1)
	}
	old := e.sandboxOf("apiserver", h1)
	if old == nil {
		t.Fatal("v1 does not run")
	}

	sb2 := e.upgrade("apiserver", v2)
	// rollout status follows the new version until it is rolled back: exit 1.
	out, err := e.cliErr("rollout", "status", "kube-system/"+e.podName("apiserver"), "--timeout", "1m")
	if code := exitCodeOf(t, err); code != 1 || !strings.Contains(out, "waiting for version "+h2+" to be Ready: 0 of 1 containers ready") ||
		!strings.Contains(out, "version "+h2+" rolled back to "+h1+": ProgressDeadlineExceeded: not Ready within 5s") {
		t.Errorf("rollout status during the rollback: exit %d, want 1, progress and the rollback:\n%s", code, out)
	}
	back, took := e.waitBack("apiserver", h1, sb2, time.Minute)
	if took > deadline+grace+start {
		t.Errorf("v1 back %v after v2 started, want within %v", took, deadline+grace+start)
	}
	if time.Unix(0, back.CreatedAt).Sub(time.Unix(0, sb2.CreatedAt)) < deadline {
		t.Errorf("v1's new sandbox was made %v after v2's, before v2's deadline of %v", time.Unix(0, back.CreatedAt).Sub(time.Unix(0, sb2.CreatedAt)), deadline)
	}
	if back.Id == old.Id {
		t.Errorf("v1 back in its old sandbox %s: it was never replaced", old.Id)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, "apiserver.yaml")); err != nil || string(b) != v2 {
		t.Errorf("the manifest was changed by the rollback (%v):\n%s", err, b)
	}

	// The status says RolledBack once a sync saw v1's container run, which
	// may come a sync after the runtime shows it.
	var p *bosunv1.Pod
	eventually(t, 30*time.Second, "bosun's status to show the pod rolled back", func() bool {
		p = e.inspect("apiserver")
		return p.GetReason() == "RolledBack"
	})
	r := p.GetRollout()
	if p.GetReason() != "RolledBack" || r.GetPhase() != "RolledBack" || r.GetReason() != "ProgressDeadlineExceeded" ||
		r.GetFileHash() != h2 || r.GetRunningHash() != h1 || r.GetLastReadyHash() != h1 || !strings.Contains(r.GetMessage(), "readiness probe failed") {
		t.Errorf("inspect: reason %s, rollout %v; want RolledBack from %s to %s after a failed readiness probe", p.GetReason(), r, h2, h1)
	}
	if ps := e.cli("ps"); !strings.Contains(ps, e.podName("apiserver")) || !strings.Contains(ps, "RolledBack (ProgressDeadlineExceeded)") {
		t.Errorf("ps does not show RolledBack:\n%s", ps)
	}
	if in := e.cli("inspect", "apiserver"); !strings.Contains(strings.Join(strings.Fields(in), " "), "File hash: "+h2+" Running hash: "+h1+" (the last Ready version)") {
		t.Errorf("inspect does not show both versions:\n%s", in)
	}
	if ev := e.cli("events"); !strings.Contains(ev, "RolledBack") || !strings.Contains(ev, "rolled back to "+h1) {
		t.Errorf("events lack the rollback:\n%s", ev)
	}
	if n := e.rollbacks("ProgressDeadlineExceeded"); n != 1 {
		t.Errorf("bosun_rollbacks_total{reason=ProgressDeadlineExceeded} = %v, want 1", n)
	}

	// The rollback holds: v2 is not tried again while the file is unchanged.
	mark := len(e.log())
	e.waitRelists(mark, 3)
	if ids := e.sandboxesOf("apiserver", h2); len(ids) != 0 {
		t.Errorf("v2 was tried again: sandboxes %v", ids)
	}
	if e.sandboxOf("apiserver", h1) == nil || e.sandboxOf("apiserver", h1).Id != back.Id {
		t.Error("v1 did not stay in its sandbox")
	}

	// A later edit is tried as usual.
	v3 := apiServerPod("apiserver", port, "v3", "", ann...)
	e.upgrade("apiserver", v3)
	done := e.waitRollout("apiserver", "Complete", time.Minute)
	if done.GetRollout().GetLastReadyHash() != e.hashOf(v3) || done.GetReason() != "Running" {
		t.Errorf("after a later edit: reason %s, rollout %v; want v3 Running and its last Ready version", done.GetReason(), done.GetRollout())
	}
	out, err = e.cliErr("rollout", "status", "apiserver", "--watch=false")
	if code := exitCodeOf(t, err); code != 0 || !strings.Contains(out, "rollout complete") {
		t.Errorf("rollout status of the later edit: exit %d, want 0 and complete:\n%s", code, out)
	}
}

// A new version that crash-loops is rolled back long before its deadline,
// with --rollback-on-failure instead of the annotation.
func TestRollbackOfAVersionThatCrashLoops(t *testing.T) {
	e := newEnv(t, "--rollback-on-failure")
	e.startBosun()
	port := freePort(t)
	const deadline = 2 * time.Minute
	v1 := apiServerPod("apiserver", port, "v1", "", "bosun.dev/progress-deadline", "2m")
	v2 := apiServerPod("apiserver", port, "v2", crashScript, "bosun.dev/progress-deadline", "2m")
	h1, h2 := e.hashOf(v1), e.hashOf(v2)
	e.write("apiserver.yaml", v1)
	e.waitRollout("apiserver", "Complete", time.Minute)

	sb2 := e.upgrade("apiserver", v2)
	_, took := e.waitBack("apiserver", h1, sb2, time.Minute)
	if took >= deadline {
		t.Errorf("v1 back after %v, not before the deadline", took)
	}
	r := e.inspect("apiserver").GetRollout()
	if r.GetPhase() != "RolledBack" || r.GetReason() != "CrashLoopBackOff" || r.GetFileHash() != h2 || r.GetRunningHash() != h1 ||
		!r.GetRollbackEnabled() || !strings.Contains(r.GetMessage(), "container kube-apiserver in CrashLoopBackOff") {
		t.Errorf("rollout %v, want RolledBack by CrashLoopBackOff from %s to %s", r, h2, h1)
	}
	if n := e.rollbacks("CrashLoopBackOff"); n != 1 {
		t.Errorf("bosun_rollbacks_total{reason=CrashLoopBackOff} = %v, want 1", n)
	}
}

// bosun restarted while the new version is in its progress window gives the
// same outcome: the window runs from the new sandbox's creation, the
// rollback happens, and it holds across another restart.
func TestRollbackAcrossARestartOfBosun(t *testing.T) {
	e := newEnv(t, "--rollback-on-failure")
	e.startBosun()
	port := freePort(t)
	const deadline, grace, start = 6 * time.Second, time.Second, 10 * time.Second
	v1 := apiServerPod("apiserver", port, "v1", "", "bosun.dev/progress-deadline", "6s")
	v2 := apiServerPod("apiserver", port, "v2", notReadyScript, "bosun.dev/progress-deadline", "6s")
	h1, h2 := e.hashOf(v1), e.hashOf(v2)
	e.write("apiserver.yaml", v1)
	e.waitRollout("apiserver", "Complete", time.Minute)

	sb2 := e.upgrade("apiserver", v2)
	e.stopBosun(syscall.SIGTERM)
	e.startBosun()
	if p := e.inspect("apiserver"); p.GetRollout().GetPhase() == "Progressing" &&
		p.GetRollout().GetStartedUnixNano() != 0 && p.GetRollout().GetStartedUnixNano() != sb2.CreatedAt {
		t.Errorf("after the restart the window starts at %v, want the new sandbox's creation %v",
			time.Unix(0, p.GetRollout().GetStartedUnixNano()), time.Unix(0, sb2.CreatedAt))
	}
	_, took := e.waitBack("apiserver", h1, sb2, time.Minute)
	if took > deadline+grace+start {
		t.Errorf("v1 back %v after v2 started, want within %v", took, deadline+grace+start)
	}
	r := e.inspect("apiserver").GetRollout()
	if r.GetPhase() != "RolledBack" || r.GetReason() != "ProgressDeadlineExceeded" || r.GetFileHash() != h2 || r.GetRunningHash() != h1 {
		t.Errorf("rollout %v, want RolledBack from %s to %s", r, h2, h1)
	}

	// Another restart: the rollback holds, from the state below --root-dir.
	back := e.sandboxOf("apiserver", h1)
	e.stopBosun(syscall.SIGTERM)
	e.startBosun()
	mark := len(e.log())
	e.waitRelists(mark, 3)
	if now := e.sandboxOf("apiserver", h1); now == nil || now.Id != back.Id {
		t.Errorf("after a second restart v1 no longer runs in %s", back.Id)
	}
	if ids := e.sandboxesOf("apiserver", h2); len(ids) != 0 {
		t.Errorf("v2 was tried again after the restart: sandboxes %v", ids)
	}
	if p := e.inspect("apiserver"); p.GetReason() != "RolledBack" || p.GetRollout().GetFileHash() != h2 {
		t.Errorf("after a second restart: reason %s, rollout %v", p.GetReason(), p.GetRollout())
	}
	fi, err := os.Stat(filepath.Join(e.rootDir, "rollout.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("rollout state: %v, want a 0600 file", err)
	}
}
