package sync

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/prober"
)

const initPod = `apiVersion: v1
kind: Pod
metadata:
  name: i
spec:
  restartPolicy: POLICY
  terminationGracePeriodSeconds: 1
  initContainers:
  - {name: first, image: "busybox:1.36"}
  - {name: side, image: "busybox:1.36", restartPolicy: Always}
  - {name: second, image: "busybox:1.36"}
  containers:
  - {name: main, image: "busybox:1.36"}
`

func (h *harness) runningNames() []string {
	var out []string
	for k := range h.rt.running() {
		out = append(out, strings.TrimPrefix(k, "i-node1/"))
	}
	slices.Sort(out)
	return out
}

func TestInitContainersRunOneAtATimeSidecarsStay(t *testing.T) {
	h := newHarness(t, load(t, "/m/i.yaml", strings.Replace(initPod, "POLICY", "Always", 1)))
	steps := []struct {
		exit string
		want []string
	}{
		{"", []string{"first"}},
		{"first", []string{"side"}},
		{"", []string{"second", "side"}},
		{"second", []string{"main", "side"}},
	}
	for i, s := range steps {
		if s.exit != "" {
			h.rt.exit(h.mustRun("i-node1/"+s.exit).Id, 0)
		}
		h.sync()
		if got := h.runningNames(); !slices.Equal(got, s.want) {
			t.Fatalf("step %d: running %v, want %v", i, got, s.want)
		}
	}
	h.sync() // the status is of what the last sync saw
	if st := h.status("default/i-node1"); st.Phase != "Running" || len(st.Containers) != 4 || !st.Containers[0].Init || st.Containers[3].Init {
		t.Errorf("status %+v", st)
	}
	// Once main ran, a finished init container is not run again.
	h.settle()
	if got := h.runningNames(); !slices.Equal(got, []string{"main", "side"}) {
		t.Errorf("running %v", got)
	}
	// Removal stops main before the sidecar.
	h.rt.stopped = nil
	h.setPods()
	h.sync()
	if !slices.Equal(h.rt.stopped, []string{"main", "side"}) {
		t.Errorf("stop order %v, want main then the sidecar", h.rt.stopped)
	}
}

func TestFailedInitContainer(t *testing.T) {
	t.Run("is retried with backoff", func(t *testing.T) {
		h := newHarness(t, load(t, "/m/i.yaml", strings.Replace(initPod, "POLICY", "Always", 1)))
		h.sync()
		h.rt.exit(h.mustRun("i-node1/first").Id, 1)
		h.sync()
		if c := h.mustRun("i-node1/first"); c.Metadata.Attempt != 1 {
			t.Errorf("attempt %d, want the first retry at once", c.Metadata.Attempt)
		}
		h.rt.exit(h.mustRun("i-node1/first").Id, 1)
		if next := h.sync(); next.IsZero() || len(h.rt.running()) != 0 {
			t.Errorf("the second retry must wait for the backoff (next %v)", next)
		}
		if st := h.status("default/i-node1"); st.Phase != "Pending" || st.Reason != "Init:CrashLoopBackOff" {
			t.Errorf("status %s %s", st.Phase, st.Reason)
		}
	})
	t.Run("fails the pod under restartPolicy Never", func(t *testing.T) {
		h := newHarness(t, load(t, "/m/i.yaml", strings.Replace(initPod, "POLICY", "Never", 1)))
		h.sync()
		h.rt.exit(h.mustRun("i-node1/first").Id, 1)
		h.settle()
		if len(h.rt.running()) != 0 {
			t.Errorf("running %v after a failed init container under Never", h.runningNames())
		}
		if st := h.status("default/i-node1"); st.Phase != "Failed" || st.Reason != "Init:Error" {
			t.Errorf("status %s %s", st.Phase, st.Reason)
		}
	})
}

func TestActiveDeadlineStopsThePodForGood(t *testing.T) {
	y := strings.Replace(podYAML("d", "Always", "x", "main"), "spec:\n", "spec:\n  activeDeadlineSeconds: 60\n", 1)
	h := newHarness(t, load(t, "/m/d.yaml", y))
	h.sync()
	h.mustRun("d-node1/main")
	if next := h.sync(); !next.Equal(h.clock.Now().Add(60 * time.Second)) {
		t.Errorf("next wake %v, want the deadline", next)
	}
	h.clock.Add(61 * time.Second)
	h.settle()
	if len(h.rt.running()) != 0 {
		t.Errorf("running %v past the deadline", h.runningNames())
	}
	if st := h.status("default/d-node1"); st.Phase != "Failed" || st.Reason != "DeadlineExceeded" {
		t.Errorf("status %s %s", st.Phase, st.Reason)
	}
}

func TestSidecarStartupProbeGatesTheNextInitContainer(t *testing.T) {
	y := strings.Replace(strings.Replace(initPod, "POLICY", "Always", 1),
		`  - {name: side, image: "busybox:1.36", restartPolicy: Always}`,
		`  - name: side
    image: "busybox:1.36"
    restartPolicy: Always
    startupProbe: {exec: {command: [ready]}, periodSeconds: 1, failureThreshold: 100}`, 1)
	h := newHarness(t, load(t, "/m/i.yaml", y))
	h.rt.execResult = map[string]int32{"side": 1}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	step := func() {
		h.loop.SyncOnce(ctx)
		h.loop.Wait()
	}
	step()
	h.rt.exit(h.mustRun("i-node1/first").Id, 0)
	step() // side starts
	step() // its startup probe worker starts, and fails
	side := h.mustRun("i-node1/side")
	eventually(t, func() bool {
		h.tick(time.Second)
		r, _ := h.loop.probes.Result(side.Id, prober.Startup)
		return r.ConsecutiveFailures >= 2
	})
	step()
	if got := h.runningNames(); !slices.Equal(got, []string{"side"}) {
		t.Fatalf("running %v: the next init container must wait for the sidecar's startup probe", got)
	}
	h.rt.mu.Lock()
	h.rt.execResult["side"] = 0
	h.rt.mu.Unlock()
	eventually(t, func() bool {
		h.tick(time.Second)
		step()
		return slices.Contains(h.runningNames(), "second")
	})
}

func TestRestartCountsContinueInANewSandboxAfterInit(t *testing.T) {
	h := newHarness(t, load(t, "/m/i.yaml", strings.Replace(initPod, "POLICY", "Always", 1)))
	h.sync()
	h.rt.exit(h.mustRun("i-node1/first").Id, 0)
	h.sync()
	h.sync()
	h.rt.exit(h.mustRun("i-node1/second").Id, 0)
	h.sync()
	h.rt.exit(h.mustRun("i-node1/main").Id, 1)
	h.sync() // main restarted: count 1
	if c := h.mustRun("i-node1/main"); c.Metadata.Attempt != 1 {
		t.Fatalf("main attempt %d", c.Metadata.Attempt)
	}
	for id := range h.rt.sandboxes {
		h.rt.killSandbox(id)
	}
	h.sync() // new sandbox, init again
	for _, name := range []string{"first", "side", "second"} {
		if name != "side" {
			h.rt.exit(h.mustRun("i-node1/"+name).Id, 0)
		}
		h.sync()
	}
	h.settle()
	if c := h.mustRun("i-node1/main"); c.Metadata.Attempt != 2 {
		t.Errorf("main in the new sandbox has attempt %d, want 2 (the count goes on)", c.Metadata.Attempt)
	}
}
