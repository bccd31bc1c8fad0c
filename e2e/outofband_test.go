package e2e

import (
	"context"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Out-of-band changes: someone else (an operator with crictl, the OOM
// killer) changes what runs behind bosun's back.

// TestKilledPauseProcessGetsNewSandbox: the pause process of a running pod
// dies; bosun replaces the dead sandbox with attempt+1 and runs the
// containers again, continuing their restart counts.
func TestKilledPauseProcessGetsNewSandbox(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("pause.yaml", sleeperPod("pause", "Always"))
	c := e.waitRunning("pause", "main")
	old := e.pod("pause").ready()

	if err := syscall.Kill(containerPID(t, old.Id), syscall.SIGKILL); err != nil {
		t.Fatalf("kill the pause process of %s: %v", old.Id, err)
	}
	var sb *runtimeapi.PodSandbox
	eventually(t, 30*time.Second, "a new ready sandbox with the main container running", func() bool {
		p := e.pod("pause")
		sb = p.ready()
		return sb != nil && sb.Id != old.Id && p.running("main") != nil
	})
	if sb.Metadata.Attempt != old.Metadata.Attempt+1 {
		t.Errorf("new sandbox has attempt %d, want %d", sb.Metadata.Attempt, old.Metadata.Attempt+1)
	}
	if got := e.pod("pause").running("main"); got.Id == c.Id || got.Metadata.Attempt != c.Metadata.Attempt+1 {
		t.Errorf("container in the new sandbox: %s attempt %d, want a new one with attempt %d", got.Id, got.Metadata.Attempt, c.Metadata.Attempt+1)
	}
	eventually(t, 30*time.Second, "the dead sandbox removed", func() bool {
		return len(e.pod("pause").sandboxes) == 1
	})
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
	eventually(t, 30*time.Second, "the container recreated", func() bool {
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
	eventually(t, 30*time.Second, "one sandbox left", func() bool {
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
