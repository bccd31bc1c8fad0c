package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// watchContainer samples the running container of a pod until stop is
// closed and reports every moment the pod had none, and the IDs it saw.
func (e *env) watchContainer(pod, name string, stop <-chan struct{}) <-chan []string {
	out := make(chan []string, 1)
	go func() {
		var ids []string
		for {
			select {
			case <-stop:
				out <- ids
				return
			default:
			}
			id := "<none>"
			if c := e.pod(pod).running(name); c != nil {
				id = c.Id
			}
			if len(ids) == 0 || ids[len(ids)-1] != id {
				ids = append(ids, id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return out
}

func TestPartialWritesCauseAtMostOneReplacement(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	path := filepath.Join(e.dir, "p.yaml")
	v1 := sleeperPod("p", "Always")
	e.write("p.yaml", v1)
	c := e.waitRunning("p", "main")

	// Changes that keep the meaning: sed -i on a comment, a dot-temp file
	// renamed over the manifest. The container never goes away.
	stop := make(chan struct{})
	seen := e.watchContainer("p", "main", stop)
	mark := len(e.log())
	if err := os.WriteFile(path, []byte("# version 1\n"+v1), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sed", "-i", "s/# version 1/# version 2/", path).CombinedOutput(); err != nil {
		t.Fatalf("sed: %v %s", err, out)
	}
	e.write("p.yaml", v1+"\n\n")
	e.waitRelists(mark, 3)
	close(stop)
	if ids := <-seen; len(ids) != 1 || ids[0] != c.Id {
		t.Errorf("containers seen %v, want only %s all along", ids, c.Id)
	}
	if calls := mutatingCalls(e.logSince(mark)); len(calls) > 0 {
		t.Errorf("changes without meaning made CRI calls %v", calls)
	}

	// A semantic change written in chunks after a truncate (the first chunk
	// alone is a valid pod of another meaning): one replacement.
	v2 := strings.Replace(v1, `["sleep", "3600"]`, `["sleep", "3601"]`, 1) + "  - name: side\n    image: " + busybox + "\n    imagePullPolicy: Never\n    command: [\"sleep\", \"3600\"]\n"
	mark = len(e.log())
	opened := time.Now()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	half := strings.Index(v2, "  - name: side")
	// bosun reads a file written in place once it saw no write for 150 ms
	// (manifest.SourceConfig.WriteQuiet). Each stretch from one write (the
	// truncate first) to the end of the next is timed: a loaded machine can
	// stall the test past 150 ms, and bosun may then read the part written,
	// as documented. Such a stretch allows one more sandbox, no more.
	const writeQuiet = 150 * time.Millisecond
	stalls, prev := 0, opened
	for _, chunk := range []string{v2[:half/2], v2[half/2 : half], v2[half:]} {
		start := time.Now()
		if _, err := f.WriteString(chunk); err != nil {
			t.Fatal(err)
		}
		if time.Since(prev) >= writeQuiet {
			stalls++
		}
		prev = start
		time.Sleep(20 * time.Millisecond)
	}
	f.Close()
	e.waitRunning("p", "side")
	e.waitRelists(mark, 3)
	if n := strings.Count(e.logSince(mark), `msg="sandbox created"`); n < 1 || n > 1+stalls {
		t.Errorf("%d sandboxes created for one change written in chunks, want 1 (%d more for the test's stalls)", n, stalls)
	} else if stalls > 0 {
		t.Logf("the test stalled %d times for %v or more between writes: %d sandboxes created", stalls, writeQuiet, n)
	}

	// An editor's save: swap file, backup copy, write in place, clean up.
	mark = len(e.log())
	v3 := strings.Replace(v2, `"3601"`, `"3602"`, 1)
	for _, name := range []string{".p.yaml.swp", "p.yaml~"} {
		if err := os.WriteFile(filepath.Join(e.dir, name), []byte(v2), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, []byte(v3), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(e.dir, ".p.yaml.swp"))
	os.Remove(filepath.Join(e.dir, "p.yaml~"))
	eventually(t, time.Minute, "the editor's version running", func() bool {
		return strings.Count(e.logSince(mark), `msg="container started"`) == 2
	})
	e.waitRelists(mark, 3)
	if n := strings.Count(e.logSince(mark), `msg="sandbox created"`); n != 1 {
		t.Errorf("%d sandboxes created for one editor save, want 1", n)
	}
}

func TestDuplicatePodInTwoFilesKeepsTheRunningOne(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("b.yaml", sleeperPod("dup", "Always"))
	c := e.waitRunning("dup", "main")
	mark := len(e.log())
	// a.yaml sorts first and names the same pod with another spec.
	e.write("a.yaml", sleeperPod("dup", "OnFailure"))
	eventually(t, 30*time.Second, "the conflict reported", func() bool {
		return strings.Contains(e.logSince(mark), "is already defined by")
	})
	l := e.logSince(mark)
	if !strings.Contains(l, filepath.Join(e.dir, "a.yaml")) || !strings.Contains(l, filepath.Join(e.dir, "b.yaml")) {
		t.Errorf("the error does not name both files:\n%s", l)
	}
	e.remove("a.yaml") // deleting the loser changes nothing
	e.waitRelists(mark, 3)
	if calls := mutatingCalls(e.logSince(mark)); len(calls) > 0 {
		t.Errorf("a duplicate manifest made CRI calls %v", calls)
	}
	if got := e.pod("dup").running("main"); got == nil || got.Id != c.Id {
		t.Errorf("the running pod was touched: %v", got)
	}
}

func TestUnsafeManifestIsRefusedAndPodKept(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("p.yaml", sleeperPod("p", "Always"))
	c := e.waitRunning("p", "main")
	path := filepath.Join(e.dir, "p.yaml")
	mark := len(e.log())
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	// A new world-writable manifest is refused outright.
	e.write("q.yaml", sleeperPod("q", "Always"))
	if err := os.Chmod(filepath.Join(e.dir, "q.yaml"), 0o646); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "both files refused", func() bool {
		l := e.logSince(mark)
		return strings.Contains(l, "mode 0666 is writable by group or others") && strings.Contains(l, "mode 0646 is writable by group or others")
	})
	e.waitRelists(mark, 2)
	if got := e.pod("p").running("main"); got == nil || got.Id != c.Id {
		t.Errorf("the pod of a manifest made unsafe was touched: %v", got)
	}
	if len(e.pod("q").sandboxes) != 0 {
		t.Errorf("a pod was made from a world-writable manifest")
	}
}

func TestManifestDirectoryRemovedKeepsPodsAndConvergesWhenBack(t *testing.T) {
	e := newEnv(t, "--file-check-frequency=1s")
	e.startBosun()
	e.write("a.yaml", sleeperPod("a", "Always"))
	e.write("b.yaml", sleeperPod("b", "Always"))
	a := e.waitRunning("a", "main")
	b := e.waitRunning("b", "main")
	mark := len(e.log())
	saved := e.dir + ".saved"
	if err := os.Rename(e.dir, saved); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the source reported unavailable", func() bool {
		return strings.Contains(e.logSince(mark), "manifest directory unavailable")
	})
	e.waitRelists(mark, 3)
	if calls := mutatingCalls(e.logSince(mark)); len(calls) > 0 {
		t.Errorf("the directory's absence made CRI calls %v", calls)
	}
	// It comes back with b deleted and c added: unchanged a is not touched.
	if err := os.Remove(filepath.Join(saved, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(saved, "c.yaml"), []byte(sleeperPod("c", "Always")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(saved, e.dir); err != nil {
		t.Fatal(err)
	}
	e.waitRunning("c", "main")
	eventually(t, time.Minute, "b removed", func() bool { return len(e.pod("b").sandboxes) == 0 })
	if got := e.pod("a").running("main"); got == nil || got.Id != a.Id {
		t.Errorf("unchanged pod a was touched: %v", got)
	}
	_ = b
	if !strings.Contains(e.logSince(mark), "manifest directory available again") {
		t.Error("no log line that the directory is back")
	}
}

func TestManifestFileNames(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	// kops and kube-up name their manifests *.manifest.
	e.write("kube-apiserver.manifest", sleeperPod("apiserver", "Always"))
	// A backup is never read, and bosun ps says so.
	e.write("x.yaml.bak", sleeperPod("backup", "Always"))
	e.waitRunning("apiserver", "main")
	want := filepath.Join(e.dir, "x.yaml.bak") + "   an editor or package manager leftover (*.bak)"
	eventually(t, 30*time.Second, "bosun ps listing the backup as ignored", func() bool {
		return strings.Contains(e.cli("ps"), want)
	})
	out := e.cli("ps")
	if !strings.Contains(out, "IGNORED FILES (not read as manifests):") || strings.Contains(out, "kube-apiserver.manifest   ") {
		t.Errorf("bosun ps:\n%s\nwant the backup, and only it, under IGNORED FILES", out)
	}
	// An ignored file is no manifest error.
	if v, ok := value(scrape(t, e.httpAddr()), "bosun_manifest_errors", nil); !ok || v != 0 {
		t.Errorf("bosun_manifest_errors = %v (found %v), want 0 with only an ignored file", v, ok)
	}
	mark := len(e.log())
	e.waitRelists(mark, 2)
	if n := len(e.pod("backup").sandboxes); n != 0 {
		t.Errorf("%d sandboxes made from a backup file", n)
	}
}

func TestSingleManifestFileRunsAndFollowsEdits(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(e.dir, "single.yaml")
	e.runFlags = append(e.runFlags, "--pod-manifest-path", path)
	e.write("single.yaml", sleeperPod("single", "Always"))
	e.write("other.yaml", sleeperPod("other", "Always")) // a neighbour: not read
	e.startBosun()
	first := e.waitRunning("single", "main")

	// An edit renamed over the file replaces the pod.
	e.write("single.yaml", onePod("single", "Always", 1, "sleep", "3601"))
	eventually(t, time.Minute, "the edited pod running", func() bool {
		c := e.pod("single").running("main")
		return c != nil && c.Id != first.Id
	})
	if n := len(e.pod("other").sandboxes); n != 0 {
		t.Errorf("%d sandboxes made from a file next to the single manifest", n)
	}
}
