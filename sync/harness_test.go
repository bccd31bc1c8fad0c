package sync

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
)

type fakeSource struct{ snap manifest.Snapshot }

func (s *fakeSource) Snapshot() manifest.Snapshot { return s.snap }

const node = "node1"

func podYAML(name, policy, cmd string, containers ...string) string {
	s := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  restartPolicy: %s\n  containers:\n", name, policy)
	for _, c := range containers {
		s += fmt.Sprintf("  - name: %s\n    image: busybox:1.36\n    command: [%q]\n", c, cmd)
	}
	return s
}

func load(t *testing.T, file, yaml string) *manifest.StaticPod {
	t.Helper()
	sp, err := manifest.Load(file, []byte(yaml), node)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

type harness struct {
	t     *testing.T
	root  string
	clock *fakeClock
	rt    *fakeRuntime
	src   *fakeSource
	loop  *Loop
}

func newHarness(t *testing.T, pods ...*manifest.StaticPod) *harness {
	clock := newFakeClock(time.Unix(1_800_000_000, 0))
	h := &harness{t: t, clock: clock, rt: newFakeRuntime(clock), src: &fakeSource{}, root: t.TempDir()}
	h.setPods(pods...)
	h.loop = h.newLoop()
	return h
}

func (h *harness) newLoop() *Loop {
	return New(Config{Runtime: h.rt, Source: h.src, Clock: h.clock, Node: runtime.Node{PodLogsDir: filepath.Join(h.root, "logs"), RootDir: h.root, Name: node, HostIP: "192.0.2.1"},
		BackoffInitial: 10 * time.Second, BackoffMax: 40 * time.Second, BackoffReset: 600 * time.Second})
}

func (h *harness) setPods(pods ...*manifest.StaticPod) {
	h.src.snap = manifest.Snapshot{Available: true, Pods: pods, Errors: map[string]error{}}
}

// sync runs one SyncOnce and waits for its actions.
func (h *harness) sync() time.Time {
	h.t.Helper()
	next := h.loop.SyncOnce(context.Background())
	h.loop.Wait()
	return next
}

// settle syncs until nothing more happens (a restart needs two syncs: one
// that sees the exit, one after the action).
func (h *harness) settle() {
	for range 5 {
		h.sync()
	}
}

func (h *harness) mustRun(key string) *runtimeapi.ContainerStatus {
	h.t.Helper()
	c, ok := h.rt.running()[key]
	if !ok {
		h.t.Fatalf("%s is not running; running: %v", key, keys(h.rt.running()))
	}
	return c
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
