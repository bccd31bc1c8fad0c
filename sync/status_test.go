package sync

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/manifest"
)

func (h *harness) status(key string) PodStatus {
	h.t.Helper()
	for _, p := range h.loop.Pods() {
		if p.Key() == key {
			return p
		}
	}
	h.t.Fatalf("no status for %s in %v", key, h.loop.Pods())
	return PodStatus{}
}

func (h *harness) eventTypes() []string {
	var out []string
	for _, e := range h.loop.History().Since(time.Time{}) {
		out = append(out, string(e.Type))
	}
	return out
}

func TestStatusFollowsThePod(t *testing.T) {
	h := newHarness(t, load(t, "/m/s.yaml", podYAML("s", "Always", "x", "main")))
	h.sync()
	h.sync()
	st := h.status("default/s-node1")
	if st.Phase != "Running" || st.Reason != "Running" || st.File != "/m/s.yaml" || len(st.Containers) != 1 || !st.Containers[0].Ready {
		t.Fatalf("status %+v", st)
	}
	if st.IP == "" || st.Containers[0].LogPath != h.loop.cfg.Node.PodLogsDir+"/default_s-node1_"+st.UID+"/main/0.log" {
		t.Errorf("ip %q log path %q", st.IP, st.Containers[0].LogPath)
	}

	h.clock.Add(time.Second)
	h.rt.exit(h.mustRun("s-node1/main").Id, 3)
	h.sync() // restart at once
	h.rt.exit(h.mustRun("s-node1/main").Id, 3)
	h.sync() // now in backoff
	st = h.status("default/s-node1")
	c := st.Containers[0]
	if st.Reason != "CrashLoopBackOff" || c.State != "Waiting" || c.RestartCount != 1 || c.LastTermination == nil || c.LastTermination.ExitCode != 3 ||
		!strings.Contains(c.Message, "back-off 10s") || c.BackoffUntil.IsZero() {
		t.Errorf("in backoff: %+v %+v", st, c)
	}
	want := []string{"PodCreated", "ContainerStarted", "ContainerExited", "ContainerRestarted", "ContainerExited"}
	if got := h.eventTypes(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestStatusOfCompletedFailedAndRemovedPods(t *testing.T) {
	ok := load(t, "/m/ok.yaml", podYAML("ok", "OnFailure", "x", "main"))
	bad := load(t, "/m/bad.yaml", podYAML("bad", "Never", "x", "main"))
	h := newHarness(t, ok, bad)
	h.sync()
	h.rt.exit(h.mustRun("ok-node1/main").Id, 0)
	h.rt.exit(h.mustRun("bad-node1/main").Id, 1)
	h.settle()
	if st := h.status("default/ok-node1"); st.Phase != "Succeeded" || st.Reason != "Completed" {
		t.Errorf("completed pod: %s %s", st.Phase, st.Reason)
	}
	if st := h.status("default/bad-node1"); st.Phase != "Failed" || st.Reason != "Error" {
		t.Errorf("failed pod: %s %s", st.Phase, st.Reason)
	}

	// A broken manifest: the pod runs on and the status says why.
	h.src.snap = manifest.Snapshot{Available: true, Pods: []*manifest.StaticPod{bad}, Errors: map[string]error{"/m/ok.yaml": errors.New("line 3: bad")}}
	h.loop = h.newLoop()
	h.sync()
	if st := h.status("default/ok-node1"); st.ManifestError != "line 3: bad" || st.Phase == "Terminating" {
		t.Errorf("pod of a broken manifest: %+v", st)
	}
	if ms := h.loop.Manifests(); len(ms) != 1 || ms[0].File != "/m/ok.yaml" {
		t.Errorf("manifest errors %v", ms)
	}
	if got := h.eventTypes(); len(got) != 1 || got[0] != "ManifestRejected" {
		t.Errorf("events %v, want one ManifestRejected", got)
	}
	h.sync()
	if got := h.eventTypes(); len(got) != 1 {
		t.Errorf("the rejection was recorded again: %v", got)
	}
}

func TestStatusOfAPodThatCannotStart(t *testing.T) {
	y := strings.Replace(podYAML("img", "Always", "x", "main"), "image: busybox:1.36", "image: missing:1", 1)
	h := newHarness(t, load(t, "/m/img.yaml", y))
	h.sync() // the pull fails; the first retry is at once
	h.sync() // and fails again: now the retry waits 10s
	st := h.status("default/img-node1")
	if c := st.Containers[0]; st.Reason != "ErrImagePull" || c.Reason != "ErrImagePull" || !strings.Contains(c.Message, "PullImage missing:1") {
		t.Errorf("right after a failed pull: status %s, container %+v", st.Reason, c)
	}
	h.sync()
	st = h.status("default/img-node1")
	c := st.Containers[0]
	if st.Reason != "ImagePullBackOff" || !strings.Contains(st.SyncError, "PullImage missing:1") {
		t.Errorf("status %s, error %q", st.Reason, st.SyncError)
	}
	if c.State != "Waiting" || c.Reason != "ImagePullBackOff" || !c.BackoffUntil.Equal(h.clock.Now().Add(10*time.Second)) ||
		c.Message != `Back-off 10s pulling image "missing:1": PullImage missing:1: no registry reachable` {
		t.Errorf("container %+v", c)
	}
	// The image arrives (imported by hand): the retry at the end of the
	// back-off starts the container.
	h.rt.mu.Lock()
	h.rt.images["missing:1"] = true
	h.rt.mu.Unlock()
	h.clock.Add(10 * time.Second)
	h.sync()
	h.mustRun("img-node1/main")
	h.sync()
	if st := h.status("default/img-node1"); st.Reason != "Running" || st.SyncError != "" {
		t.Errorf("after the image arrived: %s %q", st.Reason, st.SyncError)
	}
}

func TestStatusOfAMissingImageThatMustNotBePulled(t *testing.T) {
	y := strings.Replace(podYAML("never", "Always", "x", "main"), "image: busybox:1.36", "image: missing:1\n    imagePullPolicy: Never", 1)
	h := newHarness(t, load(t, "/m/never.yaml", y))
	h.sync()
	h.sync()
	st := h.status("default/never-node1")
	c := st.Containers[0]
	if st.Reason != "ErrImageNeverPull" || c.State != "Waiting" || c.Reason != "ErrImageNeverPull" ||
		c.Message != "image missing:1 is not present and imagePullPolicy is Never" {
		t.Errorf("status %s, container %+v", st.Reason, c)
	}
	for _, m := range h.rt.mutations() {
		if m == "PullImage" {
			t.Errorf("a pull under imagePullPolicy Never")
		}
	}
}
