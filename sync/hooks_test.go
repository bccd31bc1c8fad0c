package sync

import (
	"context"
	"fmt"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
)

// sleepyPod is a pod whose container's postStart hook sleeps 1,000,000 s,
// with the default grace period of 30 s. Validation refuses such a sleep,
// so it is set after loading: the loop must hold its bounds on its own.
func sleepyPod(t *testing.T, name string) *manifest.StaticPod {
	t.Helper()
	sp := load(t, "/m/"+name+".yaml", podYAML(name, "Always", "sleep", "main")+
		"    lifecycle:\n      postStart:\n        sleep:\n          seconds: 30\n")
	sp.Pod.Spec.Containers[0].Lifecycle.PostStart.Sleep.Seconds = 1_000_000
	return sp
}

// waitersAtLeast waits until n goroutines wait on the fake clock.
func waitersAtLeast(t *testing.T, h *harness, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.clock.Waiters() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters on the clock, want %d", h.clock.Waiters(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// actionsEnd waits for the loop's actions, and fails the test when they
// are still under way after a while (they wait on a clock that no one moves).
func actionsEnd(t *testing.T, h *harness, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		h.loop.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the loop's actions still run", what)
	}
}

// runningPods lists the names of the pods whose container runs.
func runningPods(h *harness) map[string]bool {
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	out := map[string]bool{}
	for _, c := range h.rt.containers {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			out[c.Labels["io.kubernetes.pod.name"]] = true
		}
	}
	return out
}

func TestPostStartSleepsHoldACreationSlotForTheGracePeriodAtMost(t *testing.T) {
	var pods []*manifest.StaticPod
	for i := range 5 {
		pods = append(pods, sleepyPod(t, fmt.Sprintf("sleepy%d", i)))
	}
	pods = append(pods, load(t, "/m/zz.yaml", podYAML("zz", "Always", "sleep", "main")))
	h := newHarness(t, pods...)
	h.loop.SyncOnce(context.Background())
	// Four creations (Config.MaxCreations) wait in their postStart sleep.
	waitersAtLeast(t, h, 4)
	h.clock.Step(30 * time.Second)
	actionsEnd(t, h, "after the grace period")
	// The fifth and sixth pods are created; the fifth waits in its sleep.
	h.loop.SyncOnce(context.Background())
	waitersAtLeast(t, h, 1)
	h.clock.Step(30 * time.Second)
	actionsEnd(t, h, "the next creations, after the grace period")
	h.settle()
	if got := runningPods(h); len(got) != 6 || !got["zz-"+node] {
		t.Errorf("running pods %v, want all six", got)
	}
}

func TestARemovedPodsPostStartSleepIsCancelled(t *testing.T) {
	h := newHarness(t, sleepyPod(t, "sleepy"))
	h.loop.SyncOnce(context.Background())
	waitersAtLeast(t, h, 1)
	h.setPods()
	h.loop.SyncOnce(context.Background())
	actionsEnd(t, h, "the pod's manifest is gone")
	h.settle()
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	if len(h.rt.sandboxes) != 0 || len(h.rt.containers) != 0 {
		t.Errorf("%d sandboxes and %d containers left, want the removed pod gone", len(h.rt.sandboxes), len(h.rt.containers))
	}
}

func TestAReplacedPodsPostStartSleepIsCancelledAndTheNewVersionRuns(t *testing.T) {
	h := newHarness(t, sleepyPod(t, "sleepy"))
	h.loop.SyncOnce(context.Background())
	waitersAtLeast(t, h, 1)
	h.setPods(load(t, "/m/sleepy.yaml", podYAML("sleepy", "Always", "sleep", "main", "second")))
	h.loop.SyncOnce(context.Background())
	actionsEnd(t, h, "the pod's manifest changed")
	h.settle()
	if got := runningPods(h); !got["sleepy-"+node] {
		t.Errorf("running pods %v, want the new version", got)
	}
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	if len(h.rt.sandboxes) != 1 || len(h.rt.containers) != 2 {
		t.Errorf("%d sandboxes and %d containers, want the new version alone", len(h.rt.sandboxes), len(h.rt.containers))
	}
}
