package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/hack/testimages"
)

// neverPod runs sleep in image, which must be present: imagePullPolicy Never.
func neverPod(name, image string) string {
	return strings.Replace(strings.Replace(sleeperPod(name, "Always"), "image: "+busybox, "image: "+image, 1),
		"imagePullPolicy: IfNotPresent", "imagePullPolicy: Never", 1)
}

func TestImagePreloadDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := t.TempDir()
	archives, err := testimages.Build(ctx, build, "../hack/pause", "/usr/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	bb := archives[1]
	tag := randomName("t")
	first, second, broken := "bosun.test/preload-first:"+tag, "bosun.test/preload-second:"+tag, "bosun.test/preload-broken:"+tag
	preload := t.TempDir()
	if err := testimages.Retag(bb, filepath.Join(preload, "first.tar"), first); err != nil {
		t.Fatal(err)
	}
	// A truncated tarball, sorted before the good one: it must not stop it.
	if err := testimages.Retag(bb, filepath.Join(build, "broken-full.tar"), broken); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(filepath.Join(build, "broken-full.tar"))
	if err != nil {
		t.Fatal(err)
	}
	brokenTar := filepath.Join(preload, "broken.tar")
	if err := os.WriteFile(brokenTar, full[:len(full)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute) // quiet already
	for _, f := range []string{"first.tar", "broken.tar"} {
		if err := os.Chtimes(filepath.Join(preload, f), old, old); err != nil {
			t.Fatal(err)
		}
	}

	// A long back-off: the waiting pod starts because the import wakes it,
	// not because its retry came round.
	e := newEnv(t, "--image-preload-dir", preload, "--crash-loop-backoff-initial=60s", "--crash-loop-backoff-max=5m")
	e.write("first.yaml", neverPod("first", first))
	e.write("second.yaml", neverPod("second", second))
	e.write("third.yaml", neverPod("third", broken))
	e.startBosun()
	// Imported before the first sync: the pod starts at once.
	e.waitRunning("first", "main")

	eventually(t, time.Minute, "second pod waiting for its image", func() bool {
		return strings.Contains(e.cli("ps"), "ErrImageNeverPull")
	})
	events := e.cli("events")
	if !strings.Contains(events, "ImagePreloadFailed") || !strings.Contains(events, brokenTar) {
		t.Errorf("events lack ImagePreloadFailed for %s:\n%s", brokenTar, events)
	}
	if l := e.log(); !strings.Contains(l, `msg="image tarball not imported" file=`+brokenTar) {
		t.Errorf("log lacks the failed import of %s:\n%s", brokenTar, tail([]byte(l), 40))
	}

	// The second tarball, an OCI layout this time, arrives in two chunks
	// with a pause, as a slow copy.
	sb := filepath.Join(build, "second.oci.tar")
	if err := testimages.OCIArchive(bb, sb, second); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sb)
	if err != nil {
		t.Fatal(err)
	}
	// bosun imports a tarball that went unmodified for 1 s
	// (imagepreload.Config.Quiet). A loaded machine can stall the test for
	// that long with the tarball half written; bosun may then try the half,
	// as documented, and the checks of that below do not apply.
	const quiet = time.Second
	begun := time.Now()
	f, err := os.Create(filepath.Join(preload, "second.oci.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := f.Write(data[len(data)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dropped := time.Now()
	stalled := dropped.Sub(begun) >= quiet
	if stalled {
		t.Logf("the test took %v to write the tarball, past bosun's %v of quiet: a try of the half-written one is allowed", dropped.Sub(begun), quiet)
	}
	e.waitRunning("second", "main")
	t.Logf("second pod running %v after its tarball was complete", time.Since(dropped).Round(time.Millisecond))
	l := e.log()
	if strings.Contains(l, "second.oci.tar err=") && !stalled {
		t.Errorf("the half-written second.oci.tar was imported:\n%s", tail([]byte(l), 40))
	}
	if n := strings.Count(l, `msg="image tarball not imported" file=`+brokenTar); n != 1 {
		t.Errorf("the broken tarball was reported %d times, want once", n)
	}
	if ev := e.cli("events"); !strings.Contains(ev, "ImagesPreloaded") || !strings.Contains(ev, "imported "+second+"@sha256:") {
		t.Errorf("events lack the import of %s with its digest:\n%s", second, ev)
	}
	if ps := e.cli("ps"); !strings.Contains(ps, e.podName("third")) || !strings.Contains(ps, "ErrImageNeverPull") {
		t.Errorf("ps does not show the pod of the broken tarball waiting:\n%s", ps)
	}

	// A restart skips what was imported.
	e.stopBosun(syscall.SIGTERM)
	mark := len(e.log())
	e.startBosun()
	if l := e.logSince(mark); strings.Contains(l, "image tarball imported") || strings.Contains(l, "image tarball not imported") {
		t.Errorf("a restart imported the tarballs again:\n%s", tail([]byte(l), 40))
	}
}
