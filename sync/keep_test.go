package sync

import (
	"slices"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sandboxStates lists the fake runtime's sandboxes as "id:READY" or
// "id:NOTREADY", sorted.
func (h *harness) sandboxStates() []string {
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	var out []string
	for id, s := range h.rt.sandboxes {
		state := "READY"
		if s.State != runtimeapi.PodSandboxState_SANDBOX_READY {
			state = "NOTREADY"
		}
		out = append(out, id+":"+state)
	}
	slices.Sort(out)
	return out
}

// count is how many times call is in calls.
func count(calls []string, call string) int {
	n := 0
	for _, c := range calls {
		if c == call {
			n++
		}
	}
	return n
}

func TestTheNewestDeadSandboxIsKeptStoppedOnceAndTheOlderOneRemoved(t *testing.T) {
	h := newHarness(t, load(t, "/m/d.yaml", podYAML("d", "Always", "x", "main")))
	h.sync()
	h.writeLogs()
	h.rt.exit(h.mustRun("d-node1/main").Id, 1)
	h.settle()
	h.writeLogs()
	first := h.sandboxOf(h.mustRun("d-node1/main").Id)
	dir := "default_d-node1_" + h.status("default/d-node1").UID + "/main/"

	// The first death: the dead sandbox is stopped once and kept, with the
	// newest instance of its container; a new sandbox runs it again.
	h.rt.mutations()
	h.rt.killSandbox(first)
	h.settle()
	h.settle()
	calls := h.rt.mutations()
	if n := count(calls, "StopPodSandbox"); n != 1 {
		t.Errorf("calls %v: StopPodSandbox %d times, want once (the dead sandbox stopped once)", calls, n)
	}
	if n := count(calls, "RemovePodSandbox"); n != 0 {
		t.Errorf("calls %v: the only dead sandbox was removed", calls)
	}
	second := h.sandboxOf(h.mustRun("d-node1/main").Id)
	if want := []string{first + ":NOTREADY", second + ":READY"}; !slices.Equal(h.sandboxStates(), want) {
		t.Fatalf("sandboxes %v, want %v", h.sandboxStates(), want)
	}
	if n := len(h.rt.containers); n != 2 {
		t.Errorf("%d containers, want 2: the running one and the newest one of the kept sandbox", n)
	}
	if st := h.status("default/d-node1"); st.SandboxID != second || st.SandboxDead || st.Phase != "Running" {
		t.Errorf("status shows sandbox %s (dead %v) %s, want the running %s", st.SandboxID, st.SandboxDead, st.Phase, second)
	}
	if got, want := h.logFiles(), []string{dir + "1.log"}; !slices.Equal(got, want) {
		t.Errorf("after the first death, log files %v, want %v (the previous instance's)", got, want)
	}
	h.writeLogs()
	if got, want := h.logFiles(), []string{dir + "1.log", dir + "2.log"}; !slices.Equal(got, want) {
		t.Errorf("after the first death, log files %v, want %v (running and previous)", got, want)
	}

	// The second death: the older dead sandbox goes, the newer is kept;
	// the logs of the running instance and of the previous one stay.
	h.rt.killSandbox(second)
	h.settle()
	calls = h.rt.mutations()
	if n := count(calls, "StopPodSandbox"); n != 1 {
		t.Errorf("calls %v: StopPodSandbox %d times, want once", calls, n)
	}
	c := h.mustRun("d-node1/main")
	if c.Metadata.Attempt != 3 {
		t.Errorf("container attempt %d, want 3 (the count goes on)", c.Metadata.Attempt)
	}
	third := h.sandboxOf(c.Id)
	if want := []string{second + ":NOTREADY", third + ":READY"}; !slices.Equal(h.sandboxStates(), want) {
		t.Fatalf("sandboxes %v, want %v (the older dead one removed)", h.sandboxStates(), want)
	}
	// The fake writes no log of its own: what is there is what stayed.
	if got, want := h.logFiles(), []string{dir + "2.log"}; !slices.Equal(got, want) {
		t.Errorf("after the second death, log files %v, want %v (the previous instance's)", got, want)
	}
	h.writeLogs()
	if got, want := h.logFiles(), []string{dir + "2.log", dir + "3.log"}; !slices.Equal(got, want) {
		t.Errorf("after the second death, log files %v, want %v (running and previous)", got, want)
	}
	if n := count(h.eventTypes(), string(EventSandboxDied)); n != 2 {
		t.Errorf("%d SandboxDied events, want 2: %v", n, h.eventTypes())
	}

	// A restarted bosun stops the kept sandbox once more and nothing else.
	h.loop = h.newLoop()
	h.settle()
	if got, want := h.rt.mutations(), []string{"StopPodSandbox"}; !slices.Equal(got, want) {
		t.Errorf("adoption made calls %v, want %v", got, want)
	}

	// The pod's removal removes every sandbox and its logs.
	h.setPods()
	h.settle()
	if len(h.rt.sandboxes)+len(h.rt.containers) != 0 {
		t.Errorf("left behind: %v %v", keys(h.rt.sandboxes), keys(h.rt.containers))
	}
	if got := h.logFiles(); len(got) != 0 {
		t.Errorf("log files %v left after the removal", got)
	}
}

func TestTheKeptSandboxLosesItsInstanceOnceTheRunningOneHasAnExitedOne(t *testing.T) {
	h := newHarness(t, load(t, "/m/d.yaml", podYAML("d", "Always", "x", "main")))
	h.sync()
	first := h.sandboxOf(h.mustRun("d-node1/main").Id)
	h.rt.killSandbox(first)
	h.settle()
	h.writeLogs()
	dir := "default_d-node1_" + h.status("default/d-node1").UID + "/main/"
	h.rt.exit(h.mustRun("d-node1/main").Id, 1)
	h.clock.Add(time.Minute) // its backoff
	h.settle()
	h.mustRun("d-node1/main")
	h.writeLogs()
	h.rt.mu.Lock()
	var inKept []string
	for id, sb := range h.rt.sandboxOf {
		if sb == first {
			inKept = append(inKept, id)
		}
	}
	h.rt.mu.Unlock()
	if len(inKept) != 0 || len(h.rt.sandboxes) != 2 {
		t.Errorf("kept sandbox holds %v of %d sandboxes, want no container once the running sandbox has an exited one", inKept, len(h.rt.sandboxes))
	}
	if got, want := h.logFiles(), []string{dir + "1.log", dir + "2.log"}; !slices.Equal(got, want) {
		t.Errorf("log files %v, want %v (running and previous)", got, want)
	}
}
