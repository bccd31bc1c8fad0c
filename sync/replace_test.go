package sync

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/runtime"
)

// gracelessPod is a pod of two containers with no grace period and no
// preStop hook, whose command is cmd.
func gracelessPod(cmd string) string {
	return strings.Replace(podYAML("w", "Always", cmd, "a", "b"), "spec:\n", "spec:\n  terminationGracePeriodSeconds: 0\n", 1)
}

// oldVersionRuns fails the test if a container of pod uid runs.
func (h *harness) oldVersionRuns(uid, when string) {
	for k, c := range h.rt.running() {
		if c.Labels[runtime.LabelPodUID] == uid {
			h.t.Errorf("%s: %s of the old version still runs", when, k)
		}
	}
}

// index is the position of the first event of type typ, -1 if none.
func index(types []string, typ EventType) int { return slices.Index(types, string(typ)) }

func TestReplacementMakesTheNewSandboxWhileTheOldOneStops(t *testing.T) {
	h := newHarness(t, load(t, "/m/w.yaml", gracelessPod("one")))
	h.sync()
	oldUID := h.mustRun("w-node1/a").Labels[runtime.LabelPodUID]
	h.rt.mutations()

	made := make(chan struct{})
	h.rt.after = map[string]func(){"RunPodSandbox": func() { close(made) }}
	h.rt.before = map[string]func(){
		// Held until the new sandbox is made: that never happens when the
		// two run one after the other (the watchdog then fails the test).
		"StopPodSandbox": func() {
			select {
			case <-made:
			case <-time.After(10 * time.Second):
				t.Error("StopPodSandbox(old) waited 10 s for RunPodSandbox(new): they do not run side by side")
			}
		},
		"StartContainer": func() { h.oldVersionRuns(oldUID, "StartContainer(new)") },
	}
	h.setPods(load(t, "/m/w.yaml", gracelessPod("two")))
	h.sync()
	h.rt.before, h.rt.after = nil, nil

	// Every old container is stopped before the new sandbox
	// is made; the old sandbox is stopped before a new container is made,
	// and removed once the new containers started.
	want := []string{"StopContainer", "StopContainer", "RunPodSandbox", "StopPodSandbox",
		"CreateContainer", "StartContainer", "CreateContainer", "StartContainer", "RemovePodSandbox"}
	if got := h.rt.mutations(); !slices.Equal(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	if got := slices.Sorted(slices.Values(h.rt.stopped)); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("stopped %v, want a and b", got)
	}
	for _, k := range []string{"w-node1/a", "w-node1/b"} {
		if c := h.mustRun(k); c.Labels[runtime.LabelPodUID] == oldUID {
			t.Errorf("%s runs the old version", k)
		}
	}
	if n := len(h.rt.sandboxes); n != 1 {
		t.Errorf("%d sandboxes, want 1", n)
	}
	types := h.eventTypes()
	started := slices.Index(types[index(types, EventPodCreated)+1:], string(EventContainerStarted))
	if removed, replaced := index(types, EventPodRemoved), index(types, EventPodReplaced); started < 0 || removed < 0 || replaced < removed {
		t.Errorf("events %v: want the old pod removed, then replaced, after the new one started", types)
	}
}

// TestReplacementRemovesTheOldSandboxFirst covers the replacements that do
// not make the new sandbox beside the old one's stop.
func TestReplacementRemovesTheOldSandboxFirst(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string // what the pod's YAML gets in place of old
		uid            string // the uid the new version keeps, if any
	}{
		// The pod directory, log directory and cgroup belong to the uid:
		// the old sandbox and its files go before the new one is made.
		{"keeping its uid", "  name: w\n", "  name: w\n  uid: fixed-uid\n", "fixed-uid"},
		// The old pod's host port mappings go with its sandbox, before the
		// new sandbox maps the same ports.
		{"mapping host ports", "    command:", "    ports: [{containerPort: 80, hostPort: 8080}]\n    command:", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := func(cmd string) string { return strings.Replace(gracelessPod(cmd), tc.old, tc.new, 1) }
			h := newHarness(t, load(t, "/m/w.yaml", pod("one")))
			h.sync()
			old := h.mustRun("w-node1/a")
			h.rt.mutations()

			h.setPods(load(t, "/m/w.yaml", pod("two")))
			h.sync()
			want := []string{"StopContainer", "StopContainer", "StopPodSandbox", "RemovePodSandbox", "RunPodSandbox", "CreateContainer", "StartContainer", "CreateContainer", "StartContainer"}
			if got := h.rt.mutations(); !slices.Equal(got, want) {
				t.Fatalf("calls = %v, want %v", got, want)
			}
			c := h.mustRun("w-node1/a")
			if uid := c.Labels[runtime.LabelPodUID]; c.Id == old.Id || (tc.uid != "" && uid != tc.uid) {
				t.Errorf("container %s uid %s, want a new container (uid %q)", c.Id, uid, tc.uid)
			}
		})
	}
}

func TestReplacementWhoseOldSandboxDoesNotStopStartsNothingAndIsFinished(t *testing.T) {
	h := newHarness(t, load(t, "/m/w.yaml", podYAML("w", "Always", "one", "main")))
	h.sync()
	oldUID := h.mustRun("w-node1/main").Labels[runtime.LabelPodUID]
	h.rt.mutations()

	h.rt.fail["StopPodSandbox"] = errors.New("StopPodSandbox: network teardown failed")
	h.setPods(load(t, "/m/w.yaml", podYAML("w", "Always", "two", "main")))
	h.sync()
	got := h.rt.mutations()
	if !slices.Contains(got, "RunPodSandbox") || slices.Contains(got, "CreateContainer") || slices.Contains(got, "StartContainer") {
		t.Fatalf("calls = %v, want the new sandbox made beside the failing stop, and no container", got)
	}
	if types := h.eventTypes(); index(types, EventSyncFailed) < 0 {
		t.Errorf("events %v: the failed stop is not reported", types)
	}
	h.oldVersionRuns(oldUID, "after the failed stop")

	// The next sync sees the new sandbox as current: the old one is
	// stopped and removed before the new containers start.
	h.sync()
	want := []string{"StopPodSandbox", "RemovePodSandbox", "CreateContainer", "StartContainer"}
	if got := h.rt.mutations(); !slices.Equal(got, want) {
		t.Fatalf("the next sync: calls = %v, want %v", got, want)
	}
	h.settle()
	if c := h.mustRun("w-node1/main"); c.Labels[runtime.LabelPodUID] == oldUID || len(h.rt.sandboxes) != 1 {
		t.Errorf("after the next sync: container uid %s, %d sandboxes; want the new version alone", c.Labels[runtime.LabelPodUID], len(h.rt.sandboxes))
	}
	if types := h.eventTypes(); index(types, EventPodReplaced) < 0 {
		t.Errorf("events %v: no replacement reported", types)
	}
}

func TestReplacementWhoseOldSandboxIsNotRemovedKeepsTheNewPodRunning(t *testing.T) {
	h := newHarness(t, load(t, "/m/w.yaml", podYAML("w", "Always", "one", "main")))
	h.sync()
	h.rt.mutations()

	h.rt.fail["RemovePodSandbox"] = errors.New("RemovePodSandbox: busy")
	h.setPods(load(t, "/m/w.yaml", podYAML("w", "Always", "two", "main")))
	h.sync()
	started := h.mustRun("w-node1/main")
	if n := len(h.rt.sandboxes); n != 2 {
		t.Fatalf("%d sandboxes after the failed removal, want the stopped old one and the new one", n)
	}
	if types := h.eventTypes(); index(types, EventSyncFailed) < 0 {
		t.Errorf("events %v: the failed removal is not reported", types)
	}
	h.rt.mutations()

	h.sync()
	if got, want := h.rt.mutations(), []string{"StopPodSandbox", "RemovePodSandbox"}; !slices.Equal(got, want) {
		t.Fatalf("the next sync: calls = %v, want %v", got, want)
	}
	h.settle()
	if c := h.mustRun("w-node1/main"); c.Id != started.Id || len(h.rt.sandboxes) != 1 {
		t.Errorf("container %s (was %s), %d sandboxes; want the new pod untouched and alone", c.Id, started.Id, len(h.rt.sandboxes))
	}
}
