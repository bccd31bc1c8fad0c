package sync

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

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
	if len(h.rt.sandboxes) != 2 {
		t.Fatalf("%d sandboxes, want 2 (the dead one kept)", len(h.rt.sandboxes))
	}
	for id, s := range h.rt.sandboxes {
		if id != sb && s.Metadata.Attempt != 1 {
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

func TestNeverPodThatRanGetsNoNewSandboxWhenItsSandboxDies(t *testing.T) {
	h := newHarness(t, load(t, "/m/never.yaml", podYAML("never", "Never", "true", "main")))
	h.sync()
	var sb string
	for id := range h.rt.sandboxes {
		sb = id
	}
	h.rt.mutations()
	// The container exits and the sandbox dies before bosun looks again.
	h.rt.exit(h.mustRun("never-node1/main").Id, 0)
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
