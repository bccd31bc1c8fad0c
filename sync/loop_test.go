package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/manifest"
)

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
	// b is done, so its sandbox was stopped; the runtime does not say
	// whether a stopped sandbox released its network, so b's is stopped
	// again (idempotent), as the kubelet does after its restart.
	if got, want := h.rt.mutations(), []string{"StopPodSandbox"}; !slices.Equal(got, want) {
		t.Fatalf("adoption made calls %v, want %v (only the finished pod's sandbox stopped again)", got, want)
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

// A StartContainer whose answer is lost (here: bosun stopping while the
// call was under way) may have started the container: it is kept, and the
// next sync adopts it.
func TestStartedContainerWhoseStartFailedIsKept(t *testing.T) {
	h := newHarness(t, load(t, "/m/s.yaml", podYAML("s", "Always", "x", "main")))
	h.rt.failAfter["StartContainer"] = errors.New("StartContainer: context canceled")
	h.sync()
	c := h.mustRun("s-node1/main")
	h.rt.mutations()
	h.settle()
	if got := h.rt.mutations(); len(got) > 0 {
		t.Errorf("calls %v after the lost answer: the running container is adopted as it is", got)
	}
	if now := h.mustRun("s-node1/main"); now.Id != c.Id {
		t.Errorf("container %s replaced by %s", c.Id, now.Id)
	}
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

// Run returns only when everything it started has ended: the sync loop,
// the event watch, probe workers and actions; after it, nothing calls the
// runtime any more.
func TestRunReturnsWhenEverythingItStartedEnded(t *testing.T) {
	y := podYAML("p", "Always", "x", "main") + `    livenessProbe:
      exec: {command: ["check"]}
      periodSeconds: 1
`
	h := newHarness(t, load(t, "/m/p.yaml", y))
	h.rt.events = make(chan error)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- h.loop.Run(ctx) }()
	eventually(t, func() bool {
		h.tick(time.Second)
		h.rt.mu.Lock()
		defer h.rt.mu.Unlock()
		return len(h.rt.execs) > 0 // a probe worker runs
	})
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	h.rt.mutations()
	h.clock.Add(time.Hour) // would fire any timer left behind
	h.loop.Wake()
	if got := h.rt.mutations(); len(got) > 0 {
		t.Errorf("calls after Run returned: %v", got)
	}
}

func TestCreationsInFlightAreBounded(t *testing.T) {
	var pods []*manifest.StaticPod
	for i := range 10 {
		name := fmt.Sprintf("p%d", i)
		pods = append(pods, load(t, "/m/"+name+".yaml", podYAML(name, "Always", "sleep", "main")))
	}
	h := newHarness(t, pods...)
	for i, want := range []int{4, 4, 2, 0} {
		h.sync()
		n := 0
		for _, c := range h.rt.mutations() {
			if c == "RunPodSandbox" {
				n++
			}
		}
		if n != want {
			t.Fatalf("sync %d made %d sandboxes, want %d (at most 4 creations in flight)", i+1, n, want)
		}
	}
	if n := len(h.rt.running()); n != 10 {
		t.Errorf("%d containers running, want 10", n)
	}
}

func TestNoPlanFromAnObservationOlderThanThePodsLastApply(t *testing.T) {
	h := newHarness(t, load(t, "/m/web.yaml", podYAML("web", "Always", "sleep", "main")))
	l := h.loop
	now := h.clock.Now()
	in := statusInput{key: "default/web-node1", desired: h.src.snap.Pods[0], now: now}
	if p, _ := l.planPod(in, podMemo{appliedAt: now.Add(time.Millisecond)}); !p.empty() {
		t.Errorf("planned %+v from an observation made before the pod's last apply ended", p)
	}
	if p, _ := l.planPod(in, podMemo{appliedAt: now}); p.empty() {
		t.Error("no plan from an observation made after the pod's last apply")
	}
}
