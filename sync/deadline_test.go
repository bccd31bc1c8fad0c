package sync

import (
	"strings"
	"testing"
	"time"
)

// deadlinePod is pod d with activeDeadlineSeconds 60.
const deadlinePod = "  activeDeadlineSeconds: 60\n"

// sandboxOf is the ID of the sandbox of container id.
func (h *harness) sandboxOf(id string) string {
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	return h.rt.sandboxOf[id]
}

func TestActiveDeadlineCountsFromThePodsFirstStartAcrossNewSandboxes(t *testing.T) {
	h := newHarness(t, load(t, "/m/d.yaml", strings.Replace(podYAML("d", "Always", "x", "main"), "spec:\n", "spec:\n"+deadlinePod, 1)))
	h.sync()
	first := h.mustRun("d-node1/main")
	h.clock.Add(40 * time.Second)
	h.rt.killSandbox(h.sandboxOf(first.Id))
	h.settle()
	second := h.mustRun("d-node1/main")
	if h.sandboxOf(second.Id) == h.sandboxOf(first.Id) {
		t.Fatal("no new sandbox after the first one died")
	}
	h.clock.Add(21 * time.Second) // 61 s after the first start, 21 s after the second
	h.settle()
	if len(h.rt.running()) != 0 {
		t.Errorf("running %v 61 s after the first start of a pod with a deadline of 60 s", h.runningNames())
	}
	if st := h.status("default/d-node1"); st.Phase != "Failed" || st.Reason != "DeadlineExceeded" {
		t.Errorf("status %s %s, want Failed DeadlineExceeded", st.Phase, st.Reason)
	}
}

// The runtime stamps a sandbox's creation with the wall clock; restamping
// it an hour earlier is what a forward jump of the wall clock by an hour
// looks like to a loop that compares it with the time now.
func TestAForwardJumpOfTheWallClockDoesNotEndThePodEarly(t *testing.T) {
	h := newHarness(t, load(t, "/m/d.yaml", strings.Replace(podYAML("d", "Always", "x", "main"), "spec:\n", "spec:\n"+deadlinePod, 1)))
	h.sync()
	c := h.mustRun("d-node1/main")
	h.rt.mu.Lock()
	sb := h.rt.sandboxes[h.rt.sandboxOf[c.Id]]
	sb.CreatedAt = time.Unix(0, sb.CreatedAt).Add(-time.Hour).UnixNano()
	h.rt.mu.Unlock()
	h.clock.Add(10 * time.Second)
	h.settle()
	h.mustRun("d-node1/main")
	if st := h.status("default/d-node1"); st.Phase != "Running" {
		t.Errorf("status %s %s 10 s after the start, want Running", st.Phase, st.Reason)
	}
	h.clock.Add(51 * time.Second)
	h.settle()
	if len(h.rt.running()) != 0 {
		t.Errorf("running %v 61 s after the start", h.runningNames())
	}
}

func TestAfterARestartOfBosunTheDeadlineCountsFromTheSandboxItFinds(t *testing.T) {
	h := newHarness(t, load(t, "/m/d.yaml", strings.Replace(podYAML("d", "Always", "x", "main"), "spec:\n", "spec:\n"+deadlinePod, 1)))
	h.sync()
	h.clock.Add(40 * time.Second)
	h.loop = h.newLoop()
	h.settle()
	h.mustRun("d-node1/main")
	h.clock.Add(21 * time.Second)
	h.settle()
	if len(h.rt.running()) != 0 {
		t.Errorf("running %v 61 s after the start, bosun restarted in between", h.runningNames())
	}
}
