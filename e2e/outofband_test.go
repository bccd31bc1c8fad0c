package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Out-of-band changes: someone else (an operator with crictl, the OOM
// killer) changes what runs behind bosun's back.

// TestKilledPauseProcessGetsNewSandbox: the pause process of a running pod
// dies; bosun replaces the dead sandbox with attempt+1 and runs the
// containers again, continuing their restart counts. The dead sandbox is
// stopped and kept, as the kubelet's garbage collection keeps the newest
// dead one; when the new one dies too, the older dead one goes, and the
// log of the previous instance stays for `bosun logs --previous`.
func TestKilledPauseProcessGetsNewSandbox(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("pause.yaml", onePod("pause", "Always", 1, "sh", "-c", "echo run; exec sleep 3600"))
	c := e.waitRunning("pause", "main")
	old := e.pod("pause").ready()

	if err := syscall.Kill(containerPID(t, old.Id), syscall.SIGKILL); err != nil {
		t.Fatalf("kill the pause process of %s: %v", old.Id, err)
	}
	var sb *runtimeapi.PodSandbox
	var got *runtimeapi.Container
	eventually(t, time.Minute, "a new ready sandbox with the main container running", func() bool {
		p := e.pod("pause")
		sb, got = p.ready(), p.running("main")
		return sb != nil && sb.Id != old.Id && got != nil
	})
	if sb.Metadata.Attempt != old.Metadata.Attempt+1 {
		t.Errorf("new sandbox has attempt %d, want %d", sb.Metadata.Attempt, old.Metadata.Attempt+1)
	}
	if got.Id == c.Id || got.Metadata.Attempt != c.Metadata.Attempt+1 {
		t.Errorf("container in the new sandbox: %s attempt %d, want a new one with attempt %d", got.Id, got.Metadata.Attempt, c.Metadata.Attempt+1)
	}
	e.waitRelists(len(e.log()), 3)
	if p := e.pod("pause"); len(p.sandboxes) != 2 || !slices.ContainsFunc(p.sandboxes, func(s *runtimeapi.PodSandbox) bool {
		return s.Id == old.Id && s.State == runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	}) {
		t.Fatalf("sandboxes %v, want the new one and the dead one %s, kept", p.sandboxes, old.Id)
	}

	if err := syscall.Kill(containerPID(t, sb.Id), syscall.SIGKILL); err != nil {
		t.Fatalf("kill the pause process of %s: %v", sb.Id, err)
	}
	eventually(t, time.Minute, "a third sandbox running main, the first dead one removed, the second kept", func() bool {
		p := e.pod("pause")
		third := p.ready()
		ids := []string{}
		for _, s := range p.sandboxes {
			ids = append(ids, s.Id)
		}
		return third != nil && third.Id != sb.Id && p.running("main") != nil && len(ids) == 2 && slices.Contains(ids, sb.Id)
	})
	if out, err := e.cliErr("logs", "pause", "--previous"); err != nil || out != "run\n" {
		t.Errorf("bosun logs --previous after the second death: %q, %v; want the previous instance's log", out, err)
	}
}

// TestRemovedContainerIsRecreatedInTheSameSandbox: an app container stopped
// and removed behind bosun's back comes back in the sandbox it was in.
func TestRemovedContainerIsRecreatedInTheSameSandbox(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("gone.yaml", sleeperPod("gone", "Always"))
	c := e.waitRunning("gone", "main")
	sb := e.pod("gone").ready()

	mark := len(e.log())
	ctx := context.Background()
	if err := cri.StopContainer(ctx, c.Id, 0); err != nil {
		t.Fatal(err)
	}
	if err := cri.RemoveContainer(ctx, c.Id); err != nil {
		t.Fatal(err)
	}
	var got *runtimeapi.Container
	eventually(t, time.Minute, "the container recreated", func() bool {
		got = e.pod("gone").running("main")
		return got != nil && got.Id != c.Id
	})
	p := e.pod("gone")
	if len(p.sandboxes) != 1 || p.sandboxes[0].Id != sb.Id || p.ready() == nil {
		t.Errorf("the sandbox was touched: %v, want only %s, ready", p.sandboxes, sb.Id)
	}
	if got.PodSandboxId != sb.Id {
		t.Errorf("recreated in sandbox %s, want %s", got.PodSandboxId, sb.Id)
	}
	for _, call := range mutatingCalls(e.logSince(mark)) {
		if call != "CreateContainer" && call != "StartContainer" {
			t.Errorf("recreating a removed container made a %s call", call)
		}
	}
}

// TestDuplicateSandboxOneKept: a second ready sandbox of a pod, made by hand
// with bosun's labels and annotations, is removed; the sandbox whose
// containers run is kept and they are not restarted.
func TestDuplicateSandboxOneKept(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("dup.yaml", sleeperPod("dup", "Always"))
	c := e.waitRunning("dup", "main")
	orig := e.pod("dup").ready()

	ctx := context.Background()
	st, err := cri.PodSandboxStatus(ctx, orig.Id)
	if err != nil {
		t.Fatal(err)
	}
	// The CRI refuses a second sandbox of the same name and attempt.
	meta := *st.GetMetadata()
	meta.Attempt++
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &meta,
		Labels:       st.GetLabels(),
		Annotations:  st.GetAnnotations(),
		LogDirectory: t.TempDir(),
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: st.GetLinux().GetNamespaces().GetOptions(),
		}},
	}
	mark := len(e.log())
	dup, err := cri.RunPodSandbox(ctx, cfg, "")
	if err != nil {
		t.Fatalf("make the duplicate sandbox: %v", err)
	}
	eventually(t, time.Minute, "one sandbox left", func() bool {
		return len(e.pod("dup").sandboxes) == 1
	})
	e.waitRelists(mark, 3)
	p := e.pod("dup")
	if p.sandboxes[0].Id != orig.Id {
		t.Errorf("kept sandbox %s, want the original %s (the duplicate was %s)", p.sandboxes[0].Id, orig.Id, dup)
	}
	if got := p.running("main"); got == nil || got.Id != c.Id {
		t.Errorf("the kept sandbox's container was restarted: %v, want %s", got, c.Id)
	}
	for _, call := range mutatingCalls(e.logSince(mark)) {
		if call != "StopPodSandbox" && call != "RemovePodSandbox" {
			t.Errorf("removing the duplicate made a %s call", call)
		}
	}
}

// psRow is the `bosun ps` line of pod name, "" if none.
func (e *env) psRow(name string) string {
	e.t.Helper()
	for _, l := range strings.Split(e.cli("ps"), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == e.podName(name) {
			return l
		}
	}
	return ""
}

// TestMissingImageWaitsThenStartsOnceImported: a pod whose image is not in
// containerd and cannot be pulled waits in ImagePullBackOff, shown by `bosun
// ps` and `bosun inspect` with the error, while other pods run; tagging the
// image into containerd by hand makes it start at the next retry, without
// restarting bosun and in the same sandbox.
func TestMissingImageWaitsThenStartsOnceImported(t *testing.T) {
	const missing = "docker.io/library/nothere:1"
	e := newEnv(t)
	e.startBosun()
	written := time.Now()
	e.write("img.yaml", strings.Replace(sleeperPod("img", "Always"), busybox, missing, 1))
	e.write("other.yaml", sleeperPod("other", "Always"))
	e.waitRunning("other", "main")

	eventually(t, 2*time.Minute, "the first failed pull in bosun ps", func() bool {
		r := e.psRow("img")
		return strings.Contains(r, "ErrImagePull") || strings.Contains(r, "ImagePullBackOff")
	})
	t.Logf("a failed pull of %s is shown %v after the manifest was written", missing, time.Since(written).Round(time.Millisecond))
	eventually(t, 2*time.Minute, "ImagePullBackOff in bosun ps", func() bool {
		return strings.Contains(e.psRow("img"), "ImagePullBackOff")
	})
	insp := e.cli("inspect", "img")
	if !strings.Contains(insp, "Waiting (ImagePullBackOff)") || !strings.Contains(insp, `pulling image "`+missing+`"`) || !strings.Contains(insp, "PullImage "+missing) {
		t.Errorf("bosun inspect does not show the back-off and the pull error:\n%s", insp)
	}
	sb := e.pod("img").ready()
	if sb == nil {
		t.Fatal("no sandbox for the pod waiting for its image")
	}

	out, err := exec.Command("ctr", "--address", filepath.Join(containerdDir, "containerd.sock"), "-n", "k8s.io", "images", "tag", busybox, missing).CombinedOutput()
	if err != nil {
		t.Fatalf("tag %s as %s: %v\n%s", busybox, missing, err, out)
	}
	imported := time.Now()
	// The back-off here is at most 2 s (--crash-loop-backoff-max), plus
	// one failing pull that may be under way.
	eventually(t, 90*time.Second, "the pod running once its image is there", func() bool {
		return e.pod("img").running("main") != nil
	})
	t.Logf("the pod runs %v after its image was imported", time.Since(imported).Round(time.Millisecond))
	if p := e.pod("img"); len(p.sandboxes) != 1 || p.ready().Id != sb.Id {
		t.Errorf("the pod got a new sandbox for its image: %v, want %s", p.sandboxes, sb.Id)
	}
	eventually(t, 30*time.Second, "Running in bosun ps", func() bool {
		return strings.Contains(e.psRow("img"), "Running")
	})
	if strings.Count(e.log(), "=== bosun start") != 1 {
		t.Errorf("bosun was restarted")
	}
}

// TestMissingImageWithPullPolicyNeverIsNotPulled: ErrImageNeverPull is
// shown and no pull is attempted.
func TestMissingImageWithPullPolicyNeverIsNotPulled(t *testing.T) {
	const missing = "docker.io/library/neverhere:1"
	e := newEnv(t)
	e.startBosun()
	mark := len(e.log())
	y := strings.Replace(sleeperPod("never", "Always"), "image: "+busybox+"\n    imagePullPolicy: IfNotPresent", "image: "+missing+"\n    imagePullPolicy: Never", 1)
	if !strings.Contains(y, "imagePullPolicy: Never") {
		t.Fatal("the manifest has no imagePullPolicy: Never")
	}
	e.write("never.yaml", y)
	eventually(t, time.Minute, "ErrImageNeverPull in bosun ps", func() bool {
		return strings.Contains(e.psRow("never"), "ErrImageNeverPull")
	})
	if insp := e.cli("inspect", "never"); !strings.Contains(insp, "image "+missing+" is not present and imagePullPolicy is Never") {
		t.Errorf("bosun inspect does not say why:\n%s", insp)
	}
	e.waitRelists(mark, 3)
	for _, c := range mutatingCalls(e.logSince(mark)) {
		if c == "PullImage" {
			t.Errorf("bosun pulled an image under imagePullPolicy Never")
		}
	}
}
