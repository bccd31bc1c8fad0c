package sync

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/manifest"
)

func (h *harness) eventMessages() []string {
	var out []string
	for _, e := range h.loop.History().Since(time.Time{}) {
		out = append(out, e.Message)
	}
	return out
}

func uidPod(name string) string {
	return strings.Replace(podYAML(name, "Always", "x", "main"), "metadata:\n", "metadata:\n  uid: shared-uid\n", 1)
}

// A pod whose manifest is broken keeps running; a new file that takes its
// uid must neither share its pod directory nor lose it when the old pod goes.
func TestANewPodWaitsUntilTheOldPodWithItsUIDIsGone(t *testing.T) {
	b := load(t, "/m/b.yaml", uidPod("b"))
	h := newHarness(t, b)
	h.settle()
	h.mustRun("b-node1/main")
	hosts := filepath.Join(h.root, "pods", "shared-uid", "etc-hosts")
	if _, err := os.Stat(hosts); err != nil {
		t.Fatalf("b's pod directory: %v", err)
	}

	// b.yaml breaks (b keeps running) and a.yaml takes b's uid.
	a := load(t, "/m/a.yaml", uidPod("a"))
	h.src.snap = manifest.Snapshot{Available: true, Pods: []*manifest.StaticPod{a}, Errors: map[string]error{"/m/b.yaml": errors.New("broken")}}
	h.settle()
	h.mustRun("b-node1/main")
	if _, ok := h.rt.running()["a-node1/main"]; ok {
		t.Fatalf("a runs beside b with the same uid: they share one pod directory and cgroup")
	}
	if msgs := h.eventMessages(); !strings.Contains(strings.Join(msgs, "\n"), "waits until pod default/b-node1") {
		t.Errorf("no event says why a waits; events: %v", msgs)
	}

	// b.yaml is deleted: b goes with its files, then a starts in a new directory.
	h.setPods(a)
	h.settle()
	h.mustRun("a-node1/main")
	if _, ok := h.rt.running()["b-node1/main"]; ok {
		t.Fatalf("b still runs after its manifest was deleted")
	}
	if _, err := os.Stat(hosts); err != nil {
		t.Errorf("a's pod directory is gone once b was removed: %v", err)
	}
}

// Two pods left running with one uid (by an older bosun): removing one
// keeps the directory the other still uses.
func TestRemovingOneOfTwoPodsWithOneUIDKeepsTheOthersDirectory(t *testing.T) {
	a := load(t, "/m/a.yaml", uidPod("a"))
	b := load(t, "/m/b.yaml", strings.Replace(uidPod("b"), "shared-uid", "legacy-uid", 1))
	h := newHarness(t, a, b)
	h.settle()
	h.mustRun("a-node1/main")
	h.mustRun("b-node1/main")
	h.rt.mu.Lock()
	for _, s := range h.rt.sandboxes {
		if s.Metadata.Uid == "legacy-uid" {
			s.Metadata.Uid = "shared-uid"
		}
	}
	h.rt.mu.Unlock()
	h.setPods(a)
	h.settle()
	h.mustRun("a-node1/main")
	if _, ok := h.rt.running()["b-node1/main"]; ok {
		t.Fatalf("b still runs after its manifest was deleted")
	}
	if _, err := os.Stat(filepath.Join(h.root, "pods", "shared-uid", "etc-hosts")); err != nil {
		t.Errorf("removing b took a's pod directory: %v", err)
	}
}
