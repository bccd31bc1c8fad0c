package sync

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/runtime"
)

const twoLimitsPod = `apiVersion: v1
kind: Pod
metadata:
  name: lim
spec:
  containers:
  - name: a
    image: busybox:1.36
    resources: {limits: {memory: 32Mi}}
  - name: b
    image: busybox:1.36
    resources: {limits: {memory: 64Mi}}
`

// TestPodCgroupIsWrittenBeforeTheSandboxAndRemovedAfterIt checks, against a
// cgroup v1 tree in a temp dir, that a new pod's cgroup gets the sum of its
// containers' memory limits and that the cgroup goes with the pod.
func TestPodCgroupIsWrittenBeforeTheSandboxAndRemovedAfterIt(t *testing.T) {
	sp := load(t, "/m/lim.yaml", twoLimitsPod)
	h := newHarness(t, sp)
	cg := t.TempDir()
	for _, d := range []string{"memory", "cpu"} {
		if err := os.Mkdir(filepath.Join(cg, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.loop.cfg.PodCgroupRoot = cg
	dir := filepath.Join(cg, "memory", runtime.CgroupParent("", sp.UID))
	seen := ""
	h.loop.rt = sandboxHook{h.rt, func() {
		b, _ := os.ReadFile(filepath.Join(dir, "memory.limit_in_bytes"))
		seen = string(b)
	}}
	h.sync()
	if len(h.rt.sandboxes) != 1 {
		t.Fatalf("sandboxes %v, want one", h.rt.sandboxes)
	}
	if seen != "100663296" {
		t.Fatalf("pod cgroup memory limit at RunPodSandbox %q, want 100663296 (96Mi)", seen)
	}
	// cgroupfs removes a cgroup with its files; a temp dir needs them gone.
	files, _ := filepath.Glob(filepath.Join(cg, "*", "bosun", "pod*", "*"))
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	h.setPods()
	h.sync()
	if len(h.rt.sandboxes) != 0 {
		t.Fatalf("sandboxes %v after the manifest is gone", h.rt.sandboxes)
	}
	for _, d := range []string{"memory", "cpu"} {
		if _, err := os.Stat(filepath.Join(cg, d, runtime.CgroupParent("", sp.UID))); !os.IsNotExist(err) {
			t.Errorf("%s pod cgroup after the pod is removed: %v, want it gone", d, err)
		}
	}
}

// sandboxHook calls before at each RunPodSandbox.
type sandboxHook struct {
	*fakeRuntime
	before func()
}

func (s sandboxHook) RunPodSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig, handler string) (string, error) {
	s.before()
	return s.fakeRuntime.RunPodSandbox(ctx, cfg, handler)
}

// TestPodCgroupErrorStopsTheSandbox checks that a pod cgroup that cannot be
// written is an error naming the pod, before any sandbox is made.
func TestPodCgroupErrorStopsTheSandbox(t *testing.T) {
	sp := load(t, "/m/lim.yaml", twoLimitsPod)
	h := newHarness(t, sp)
	cg := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(cg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.loop.cfg.PodCgroupRoot = cg
	h.sync()
	if len(h.rt.sandboxes) != 0 {
		t.Errorf("sandboxes %v, want none", h.rt.sandboxes)
	}
	h.loop.mu.Lock()
	err := h.loop.pods[podKey(sp.Key())].syncErr
	h.loop.mu.Unlock()
	if err == nil || !strings.Contains(err.Error(), "pod cgroup") || !strings.Contains(err.Error(), sp.Key()) {
		t.Errorf("pod error %v, want one naming the pod and its cgroup", err)
	}
}
