package sync

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
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

func TestNewManifestCreatesPodOnceAndSecondSyncDoesNothing(t *testing.T) {
	h := newHarness(t, load(t, "/m/web.yaml", podYAML("web", "Always", "sleep", "a", "b")))
	h.sync()
	if got, want := h.rt.mutations(), []string{"RunPodSandbox", "CreateContainer", "StartContainer", "CreateContainer", "StartContainer"}; !slices.Equal(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	h.mustRun("web-node1/a")
	h.mustRun("web-node1/b")
	h.settle()
	if got := h.rt.mutations(); len(got) > 0 {
		t.Errorf("a sync with nothing to do made calls %v", got)
	}
}

func TestExitedContainerRestartsWithCrashLoopBackOff(t *testing.T) {
	h := newHarness(t, load(t, "/m/c.yaml", podYAML("c", "Always", "false", "main")))
	h.sync()
	c := h.mustRun("c-node1/main")

	h.clock.Add(time.Second)
	h.rt.exit(c.Id, 1)
	h.sync()
	c = h.mustRun("c-node1/main")
	if c.Metadata.Attempt != 1 {
		t.Fatalf("first restart attempt = %d, want 1 at once", c.Metadata.Attempt)
	}

	// The second restart waits 10 s after the exit, the third 20 s.
	for i, delay := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 40 * time.Second} {
		h.clock.Add(time.Second)
		exitAt := h.clock.Now()
		h.rt.exit(c.Id, 1)
		next := h.sync()
		if _, ok := h.rt.running()["c-node1/main"]; ok {
			t.Fatalf("restart %d happened at once, want a backoff of %v", i+2, delay)
		}
		if want := exitAt.Add(delay); !next.Equal(want) {
			t.Errorf("restart %d: loop asks to wake at %v, want %v", i+2, next, want)
		}
		h.clock.Add(delay - time.Millisecond)
		h.sync()
		if _, ok := h.rt.running()["c-node1/main"]; ok {
			t.Fatalf("restart %d came before its backoff of %v", i+2, delay)
		}
		h.clock.Add(time.Millisecond)
		h.sync()
		c = h.mustRun("c-node1/main")
		if c.Metadata.Attempt != uint32(i+2) {
			t.Fatalf("attempt = %d, want %d", c.Metadata.Attempt, i+2)
		}
	}

	// A run longer than the reset period forgets the backoff.
	h.clock.Add(601 * time.Second)
	h.rt.exit(c.Id, 1)
	h.sync()
	if c = h.mustRun("c-node1/main"); c.Metadata.Attempt != 6 {
		t.Errorf("after a long run: attempt %d, want 6 restarted at once", c.Metadata.Attempt)
	}
	if c.Annotations["io.kubernetes.container.restartCount"] != "6" || c.LogPath != "main/6.log" {
		t.Errorf("restart count annotation %q, log path %q", c.Annotations["io.kubernetes.container.restartCount"], c.LogPath)
	}
}

func TestRestartPolicyDecidesWhetherAnExitedContainerRestarts(t *testing.T) {
	for _, tc := range []struct {
		policy  string
		code    int32
		restart bool
	}{
		{"Always", 0, true}, {"Always", 1, true},
		{"OnFailure", 0, false}, {"OnFailure", 2, true},
		{"Never", 0, false}, {"Never", 1, false},
	} {
		t.Run(fmt.Sprintf("%s exit %d", tc.policy, tc.code), func(t *testing.T) {
			h := newHarness(t, load(t, "/m/p.yaml", podYAML("p", tc.policy, "x", "main")))
			h.sync()
			c := h.mustRun("p-node1/main")
			h.rt.exit(c.Id, tc.code)
			h.rt.mutations()
			h.settle()
			_, running := h.rt.running()["p-node1/main"]
			if running != tc.restart {
				t.Errorf("restarted = %v, want %v (calls %v)", running, tc.restart, h.rt.mutations())
			}
		})
	}
}

func TestSemanticChangeReplacesOldPodBeforeNewOne(t *testing.T) {
	h := newHarness(t, load(t, "/m/w.yaml", podYAML("w", "Always", "one", "main")))
	h.sync()
	old := h.mustRun("w-node1/main")
	h.rt.mutations()

	h.setPods(load(t, "/m/w.yaml", podYAML("w", "Always", "two", "main")))
	h.sync()
	want := []string{"StopContainer", "StopPodSandbox", "RemovePodSandbox", "RunPodSandbox", "CreateContainer", "StartContainer"}
	if got := h.rt.mutations(); !slices.Equal(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	if c := h.mustRun("w-node1/main"); c.Id == old.Id || c.Labels["io.kubernetes.pod.uid"] == old.Labels["io.kubernetes.pod.uid"] {
		t.Errorf("container %s uid %s was not replaced", c.Id, c.Labels["io.kubernetes.pod.uid"])
	}
	if n := len(h.rt.sandboxes); n != 1 {
		t.Errorf("%d sandboxes, want 1", n)
	}
}

func TestRemovedManifestRemovesPodUnlessProtected(t *testing.T) {
	sp := load(t, "/m/r.yaml", podYAML("r", "Always", "x", "main"))

	t.Run("directory unavailable keeps the pod", func(t *testing.T) {
		h := newHarness(t, sp)
		h.sync()
		h.rt.mutations()
		h.src.snap = manifest.Snapshot{Available: false, Err: errors.New("gone")}
		h.settle()
		if got := h.rt.mutations(); len(got) > 0 {
			t.Errorf("calls %v while the directory is unavailable", got)
		}
	})
	t.Run("broken manifest keeps the pod", func(t *testing.T) {
		h := newHarness(t, sp)
		h.sync()
		h.rt.mutations()
		h.src.snap = manifest.Snapshot{Available: true, Errors: map[string]error{"/m/r.yaml": errors.New("bad")}}
		h.loop = h.newLoop() // a restarted bosun that never saw the good version
		h.settle()
		if got := h.rt.mutations(); len(got) > 0 {
			t.Errorf("calls %v for a pod whose manifest is broken", got)
		}
	})
	t.Run("deleted manifest removes the pod", func(t *testing.T) {
		h := newHarness(t, sp)
		h.sync()
		h.rt.mutations()
		h.setPods()
		h.sync()
		if got, want := h.rt.mutations(), []string{"StopContainer", "StopPodSandbox", "RemovePodSandbox"}; !slices.Equal(got, want) {
			t.Errorf("calls = %v, want %v", got, want)
		}
		if len(h.rt.sandboxes)+len(h.rt.containers) != 0 {
			t.Errorf("left behind: %v %v", h.rt.sandboxes, h.rt.containers)
		}
	})
}

func TestRestartedBosunAdoptsWithoutMutatingCalls(t *testing.T) {
	h := newHarness(t,
		load(t, "/m/a.yaml", podYAML("a", "Always", "x", "main", "side")),
		load(t, "/m/b.yaml", podYAML("b", "OnFailure", "x", "main")))
	h.sync()
	// b's container completed, a's side container restarted once.
	h.rt.exit(h.mustRun("b-node1/main").Id, 0)
	h.rt.exit(h.mustRun("a-node1/side").Id, 1)
	h.settle()
	before := h.rt.running()
	h.rt.mutations()

	h.loop = h.newLoop()
	h.settle()
	if got := h.rt.mutations(); len(got) > 0 {
		t.Fatalf("adoption made calls %v", got)
	}
	after := h.rt.running()
	for k, c := range before {
		if after[k] == nil || after[k].Id != c.Id {
			t.Errorf("%s changed: %v -> %v", k, c.Id, after[k])
		}
	}
	if !h.loop.Synced() {
		t.Error("Synced() = false after a sync")
	}
}

func TestAdoptedCrashLoopWaitsInsteadOfRestartingAtOnce(t *testing.T) {
	h := newHarness(t, load(t, "/m/c.yaml", podYAML("c", "Always", "false", "main")))
	h.sync()
	h.rt.exit(h.mustRun("c-node1/main").Id, 1)
	h.sync() // restart 1, at once
	h.rt.exit(h.mustRun("c-node1/main").Id, 1)
	h.loop = h.newLoop()
	next := h.sync()
	if _, ok := h.rt.running()["c-node1/main"]; ok || next.IsZero() {
		t.Errorf("a new bosun restarted a crash-looping container at once (next wake %v)", next)
	}
}

func TestDeadSandboxIsRecreatedWithNextAttemptAndRestartCount(t *testing.T) {
	h := newHarness(t, load(t, "/m/d.yaml", podYAML("d", "Always", "x", "main")))
	h.sync()
	c := h.mustRun("d-node1/main")
	h.rt.exit(c.Id, 1)
	h.sync()
	var sb string
	for id := range h.rt.sandboxes {
		sb = id
	}
	h.rt.killSandbox(sb)
	h.settle()
	c = h.mustRun("d-node1/main")
	if c.Metadata.Attempt != 2 {
		t.Errorf("container attempt %d, want 2 (the count goes on)", c.Metadata.Attempt)
	}
	if len(h.rt.sandboxes) != 1 {
		t.Fatalf("%d sandboxes, want 1", len(h.rt.sandboxes))
	}
	for id, s := range h.rt.sandboxes {
		if id == sb || s.Metadata.Attempt != 1 {
			t.Errorf("sandbox %s attempt %d, want a new one with attempt 1", id, s.Metadata.Attempt)
		}
	}
}

func TestOldExitedInstancesAreCollectedKeepingThePreviousOne(t *testing.T) {
	h := newHarness(t, load(t, "/m/g.yaml", podYAML("g", "Always", "x", "main")))
	h.sync()
	for range 4 {
		h.rt.exit(h.mustRun("g-node1/main").Id, 1)
		h.clock.Add(time.Minute)
		h.settle()
	}
	if n := len(h.rt.containers); n != 2 {
		t.Errorf("%d containers kept, want 2 (running and previous)", n)
	}
}

func TestUnreachableRuntimeChangesNothingAndIsRetried(t *testing.T) {
	h := newHarness(t, load(t, "/m/u.yaml", podYAML("u", "Always", "x", "main")))
	h.rt.down = true
	start := h.clock.Now()
	if next := h.sync(); !next.After(start) {
		t.Errorf("next wake %v, want a retry after %v", next, start)
	}
	h.rt.down = false
	h.sync()
	h.mustRun("u-node1/main")
}

func TestFailedSyncIsRetriedAtOnceThenWithBackoff(t *testing.T) {
	h := newHarness(t, load(t, "/m/f.yaml", podYAML("f", "Always", "x", "main")))
	h.rt.fail["RunPodSandbox"] = errors.New("RunPodSandbox: cni failed")
	h.sync()
	h.rt.fail["RunPodSandbox"] = errors.New("RunPodSandbox: cni failed")
	h.sync() // the first retry is at once, and fails again
	next := h.sync()
	if _, ok := h.rt.running()["f-node1/main"]; ok {
		t.Fatal("pod runs although it should wait for its retry")
	}
	if want := h.clock.Now().Add(10 * time.Second); !next.Equal(want) {
		t.Errorf("next wake %v, want %v", next, want)
	}
	h.clock.Add(10 * time.Second)
	h.sync()
	h.mustRun("f-node1/main")
}

func TestMissingImageWithPullPolicyNeverFailsWithClearError(t *testing.T) {
	y := strings.Replace(podYAML("never", "Always", "x", "main"), "image: busybox:1.36", "image: missing:1\n    imagePullPolicy: Never", 1)
	h := newHarness(t, load(t, "/m/never.yaml", y))
	h.sync()
	err := h.loop.pods["default/never-node1"].syncErr
	if err == nil || !strings.Contains(err.Error(), "image missing:1 is not present and imagePullPolicy is Never") {
		t.Errorf("error = %v", err)
	}
}

func TestCreatedButNotStartedContainerIsStarted(t *testing.T) {
	h := newHarness(t, load(t, "/m/s.yaml", podYAML("s", "Always", "x", "main")))
	h.rt.fail["StartContainer"] = errors.New("StartContainer: context canceled")
	h.sync()
	// The rollback removed the half-made container; the next sync makes a new one.
	if n := len(h.rt.containers); n != 0 {
		t.Fatalf("%d containers after a failed start, want the half-made one removed", n)
	}
	h.settle()
	h.mustRun("s-node1/main")
}

func TestTwoFilesForOnePodTheRunningOneWins(t *testing.T) {
	a := load(t, "/m/a.yaml", podYAML("dup", "Always", "a", "main"))
	b := load(t, "/m/b.yaml", podYAML("dup", "Always", "b", "main"))
	h := newHarness(t, b)
	h.sync()
	running := h.mustRun("dup-node1/main")
	h.rt.mutations()
	h.setPods(a, b) // a is lexically first, but b runs
	h.settle()
	if got := h.rt.mutations(); len(got) > 0 {
		t.Errorf("calls %v: the running pod must stay", got)
	}
	if c := h.mustRun("dup-node1/main"); c.Id != running.Id {
		t.Errorf("container replaced")
	}

	h2 := newHarness(t, b, a)
	h2.setPods(a, b)
	h2.sync()
	sb := h2.rt.sandboxes
	for _, s := range sb {
		if s.Annotations["bosun.dev/manifest"] != "/m/a.yaml" {
			t.Errorf("with none running the lexically first file must win, got %s", s.Annotations["bosun.dev/manifest"])
		}
	}
}

func TestNeverPodThatRanGetsNoNewSandboxWhenItsSandboxDies(t *testing.T) {
	h := newHarness(t, load(t, "/m/never.yaml", podYAML("never", "Never", "true", "main")))
	h.sync()
	h.rt.exit(h.mustRun("never-node1/main").Id, 0)
	h.sync()
	var sb string
	for id := range h.rt.sandboxes {
		sb = id
	}
	h.rt.mutations()
	h.rt.killSandbox(sb)
	h.settle()
	if got, want := h.rt.mutations(), []string{"StopPodSandbox"}; !slices.Equal(got, want) {
		t.Errorf("calls after the sandbox died = %v, want %v (stopped once, kept, no new sandbox)", got, want)
	}
	if len(h.rt.sandboxes) != 1 || h.rt.sandboxes[sb] == nil {
		t.Errorf("sandboxes %v, want only the dead one %s", keys(h.rt.sandboxes), sb)
	}
	if st := h.status("default/never-node1"); st.Phase != "Succeeded" {
		t.Errorf("phase %s, want Succeeded", st.Phase)
	}
}
