package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRuntimeClassName runs a pod on containerd's second runc handler
// (runc-alt, configured by hack/containerd.sh), adopts it after a restart of
// bosun without a CRI call, and shows a clear error for a handler containerd
// does not know, retried without touching the other pod.
func TestRuntimeClassName(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("alt.yaml", podWith("alt", "  runtimeClassName: runc-alt", ""))
	c := e.waitRunning("alt", "main")
	sb := e.pod("alt").ready()
	st, err := cri.PodSandboxStatus(context.Background(), sb.Id)
	if err != nil {
		t.Fatal(err)
	}
	if h := st.GetRuntimeHandler(); h != "runc-alt" {
		t.Errorf("sandbox runtime handler %q, want runc-alt", h)
	}

	// Adoption: a new bosun keeps the pod as it is.
	e.stopBosun(syscall.SIGTERM)
	mark := len(e.log())
	e.startBosun()
	e.waitRelists(mark, 3)
	if calls := mutatingCalls(e.logSince(mark)); len(calls) > 0 {
		t.Errorf("after a restart of bosun, CRI calls %v for a pod with runtimeClassName", calls)
	}
	if now := e.pod("alt").running("main"); now == nil || now.Id != c.Id {
		t.Fatalf("container after a restart of bosun: %v, want %s still running", now, c.Id)
	}

	e.write("nope.yaml", podWith("nope", "  runtimeClassName: nope", ""))
	want := `spec.runtimeClassName "nope": the runtime has no handler "nope" configured`
	eventually(t, time.Minute, "bosun ps showing the unknown handler", func() bool {
		p, ok := e.psPods()[e.podName("nope")]
		return ok && strings.Contains(p.SyncError, want) && strings.Contains(p.SyncError, `no runtime for "nope" is configured`)
	})
	if ev := e.cli("events"); !strings.Contains(ev, e.podName("nope")) || !strings.Contains(ev, want) {
		t.Errorf("events do not name the pod and the handler:\n%s", ev)
	}
	// Retried: with the e2e backoff of 1s..2s, several attempts within 6 s.
	eventually(t, time.Minute, "three attempts at the pod with the unknown handler", func() bool {
		return strings.Count(e.log(), `no runtime for \"nope\"`) >= 3
	})
	if n := len(e.pod("nope").sandboxes); n != 0 {
		t.Errorf("pod with an unknown handler has %d sandboxes", n)
	}
	if now := e.pod("alt").running("main"); now == nil || now.Id != c.Id {
		t.Errorf("the other pod was affected: %v, want %s still running", now, c.Id)
	}
}

// memoryCgroup is the memory cgroup (v1 hierarchy) of a host process.
func memoryCgroup(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "memory") {
			return f[2]
		}
	}
	t.Fatalf("no memory cgroup (v1) for pid %d:\n%s", pid, b)
	return ""
}

// TestPodCgroupHasTheSumOfTheContainersLimits checks on the host that the
// pod cgroup above a container's cgroup has the sum of the containers'
// memory limits (32Mi + 64Mi), as under the kubelet, and that it goes with
// the pod.
func TestPodCgroupHasTheSumOfTheContainersLimits(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("sum.yaml", podWith("sum", "", "    resources: {limits: {memory: 32Mi}}")+`  - name: second
    image: docker.io/library/busybox:1.36
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    resources: {limits: {memory: 64Mi}}
`)
	c := e.waitRunning("sum", "main")
	e.waitRunning("sum", "second")
	own := memoryCgroup(t, containerPID(t, c.Id))
	pod := filepath.Dir(own)
	read := func(cg, file string) string {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", cg, file))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if got := read(own, "memory.limit_in_bytes"); got != "33554432" {
		t.Errorf("container cgroup %s memory limit %s, want 33554432 (32Mi)", own, got)
	}
	if got := read(pod, "memory.limit_in_bytes"); got != "100663296" {
		t.Errorf("pod cgroup %s memory limit %s, want 100663296 (96Mi)", pod, got)
	}
	e.remove("sum.yaml")
	eventually(t, time.Minute, "the pod removed", func() bool { return len(e.pod("sum").sandboxes) == 0 })
	eventually(t, 30*time.Second, "the pod cgroup removed from every hierarchy", func() bool {
		left, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", pod))
		return len(left) == 0
	})
}
