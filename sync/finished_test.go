package sync

import (
	"slices"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const finishedPod = `apiVersion: v1
kind: Pod
metadata:
  name: f
spec:
  restartPolicy: POLICY
  terminationGracePeriodSeconds: 1
  initContainers:
  - {name: side, image: "busybox:1.36", restartPolicy: Always}
  containers:
  - {name: main, image: "busybox:1.36"}
`

// onlySandbox returns the ID of the one sandbox of the fake runtime.
func (h *harness) onlySandbox() string {
	h.t.Helper()
	if len(h.rt.sandboxes) != 1 {
		h.t.Fatalf("sandboxes %v, want one", keys(h.rt.sandboxes))
	}
	for id := range h.rt.sandboxes {
		return id
	}
	return ""
}

// A pod whose app containers are all done for good is killed as the
// kubelet kills it: its sidecar stops, then its sandbox (its IP and host
// ports are released), which is kept; nothing runs again, not after a
// while, not after bosun restarts; its phase is Succeeded or Failed.
func TestFinishedPodStopsItsSidecarsAndSandboxForGood(t *testing.T) {
	for _, tc := range []struct {
		policy        string
		exit          int32
		phase, reason string
	}{
		{"Never", 0, "Succeeded", "Completed"},
		{"Never", 3, "Failed", "Error"},
		{"OnFailure", 0, "Succeeded", "Completed"},
	} {
		t.Run(tc.policy+" "+tc.phase, func(t *testing.T) {
			h := newHarness(t, load(t, "/m/f.yaml", strings.Replace(finishedPod, "POLICY", tc.policy, 1)))
			h.settle()
			h.mustRun("f-node1/side")
			sb := h.onlySandbox()
			h.rt.stopped = nil
			h.rt.exit(h.mustRun("f-node1/main").Id, tc.exit)
			h.sync()
			if !slices.Equal(h.rt.stopped, []string{"side"}) {
				t.Errorf("stopped %v, want the sidecar", h.rt.stopped)
			}
			if st := h.rt.sandboxes[sb].State; st != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
				t.Errorf("sandbox %s, want it stopped", st)
			}
			check := func(when string) {
				t.Helper()
				if got := h.rt.running(); len(got) != 0 {
					t.Errorf("%s: running %v", when, keys(got))
				}
				if id := h.onlySandbox(); id != sb {
					t.Errorf("%s: sandbox %s, want the finished %s kept", when, id, sb)
				}
				st := h.status("default/f-node1")
				if st.Phase != tc.phase || st.Reason != tc.reason || st.SandboxID != sb || len(st.Containers) != 2 {
					t.Errorf("%s: status %s %s sandbox %s with %d containers, want %s %s in %s", when, st.Phase, st.Reason, st.SandboxID, len(st.Containers), tc.phase, tc.reason, sb)
				}
			}
			h.rt.mutations()
			h.clock.Add(time.Hour)
			h.settle()
			if got := h.rt.mutations(); len(got) != 0 {
				t.Errorf("calls %v for a finished pod", got)
			}
			check("an hour later")
			if got := h.eventTypes(); !slices.Contains(got, string(EventPodCompleted)) {
				t.Errorf("events %v, want %s", got, EventPodCompleted)
			}

			h.loop = h.newLoop() // bosun restarts
			h.sync()
			check("adopted")
			h.settle()
			if got, want := h.rt.mutations(), []string{"StopPodSandbox"}; !slices.Equal(got, want) {
				t.Errorf("calls after a restart %v, want %v (the kept sandbox stopped again, nothing created)", got, want)
			}
			check("after a restart")
		})
	}
}

// A failed init container under restartPolicy Never fails the pod, which
// is killed as the kubelet kills it: the sidecar started before it stops
// with the sandbox.
func TestFailedInitContainerUnderNeverStopsThePod(t *testing.T) {
	y := strings.Replace(finishedPod, "POLICY", "Never", 1)
	y = strings.Replace(y, "  containers:\n", "  - {name: setup, image: \"busybox:1.36\"}\n  containers:\n", 1)
	h := newHarness(t, load(t, "/m/f.yaml", y))
	h.settle()
	sb := h.onlySandbox()
	h.rt.exit(h.mustRun("f-node1/setup").Id, 1)
	h.settle()
	if got := h.rt.running(); len(got) != 0 {
		t.Errorf("running %v after the init container failed", keys(got))
	}
	if st := h.rt.sandboxes[sb].State; st != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("sandbox %s, want it stopped", st)
	}
	if st := h.status("default/f-node1"); st.Phase != "Failed" || st.Reason != "Init:Error" {
		t.Errorf("status %s %s, want Failed Init:Error", st.Phase, st.Reason)
	}
}
