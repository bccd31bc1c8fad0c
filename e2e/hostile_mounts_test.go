package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// mountsOn counts the mounts stacked on path, a canonical path, from
// mountinfo (the test reads names; bosun decides by mount IDs).
func mountsOn(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == path {
			n++
		}
	}
	return n
}

// startedInstance waits until the instance attempt (or a later one) of
// container main of pod name runs and has printed its "start" line, and
// returns that container and line.
func (e *env) startedInstance(name string, attempt uint32) (*runtimeapi.Container, string) {
	e.t.Helper()
	var c *runtimeapi.Container
	var line string
	eventually(e.t, 2*time.Minute, fmt.Sprintf("instance %d of %s printing its start", attempt, name), func() bool {
		c = e.pod(name).running("main")
		if c == nil || c.Metadata.Attempt < attempt {
			return false
		}
		for _, l := range strings.Split(e.logOf(name, "main"), "\n") {
			if strings.HasPrefix(l, "start ") {
				line = l
				return true
			}
		}
		return false
	})
	return c, line
}

func TestALinkedRootDirNeitherStacksMountsNorRemovesThroughThem(t *testing.T) {
	e := newEnv(t)
	// --root-dir is given through a link to the real directory.
	real := filepath.Join(t.TempDir(), "real-root")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(real)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, e.rootDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmountBelow(real) })
	host := filepath.Join(t.TempDir(), "host")
	if err := os.MkdirAll(filepath.Join(host, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "sub", "keep"), []byte("host data"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.startBosun()
	if !strings.Contains(e.log(), "dir="+real) {
		t.Errorf("bosun did not log the canonical root dir %s", real)
	}
	// Each instance counts its starts in the memory emptyDir: a tmpfs
	// mounted again at a start would make it count from 0 again. The first
	// instance exits, so the second is a start with the mounts in place.
	e.write("mounts.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: mounts
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: host, hostPath: {path: %s, type: Directory}}
  - {name: mem, emptyDir: {medium: Memory}}
  - {name: disk, emptyDir: {}}
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c"]
    args:
    - |
      n=$(cat /mem/count 2>/dev/null || echo 0)
      echo $((n+1)) > /mem/count
      echo "start $n sees $(cat /host/keep)"
      [ -e /disk/once ] || { touch /disk/once; exit 1; }
      sleep 3600
    volumeMounts:
    - {name: host, mountPath: /host, subPath: sub}
    - {name: mem, mountPath: /mem}
    - {name: disk, mountPath: /disk}
`, host, busybox))
	_, line := e.startedInstance("mounts", 1)
	if line != "start 1 sees host data" {
		t.Errorf("the restarted instance printed %q, want %q: its memory emptyDir was mounted again", line, "start 1 sees host data")
	}
	uid := podUID(t, e, "mounts")
	pod := filepath.Join(real, "pods", uid)
	targets := []string{filepath.Join(pod, "volume-subpaths", "host", "main", "0"), filepath.Join(pod, "volumes", "empty-dir", "mem")}
	counted := func(when string) {
		for _, p := range targets {
			if n := mountsOn(t, p); n != 1 {
				t.Errorf("%s: %d mounts on %s, want 1", when, n, p)
			}
		}
	}
	counted("after a container restart")

	// bosun restarts, then the container: the same mounts are used again.
	e.stopBosun(syscall.SIGTERM)
	e.startBosun()
	c := e.pod("mounts").running("main")
	if c == nil {
		t.Fatal("the container stopped with bosun")
	}
	if err := cri.StopContainer(context.Background(), c.Id, 0); err != nil {
		t.Fatal(err)
	}
	_, line = e.startedInstance("mounts", 2)
	if line != "start 2 sees host data" {
		t.Errorf("the instance started by the restarted bosun printed %q, want %q", line, "start 2 sees host data")
	}
	counted("after a restart of bosun")

	// The manifest goes: the pod directory goes, the hostPath stays whole.
	e.remove("mounts.yaml")
	eventually(t, 2*time.Minute, "the pod directory removed, or bosun's word why not", func() bool {
		_, err := os.Lstat(pod)
		return errors.Is(err, os.ErrNotExist) || strings.Contains(e.log(), "remove pod directory")
	})
	if b, err := os.ReadFile(filepath.Join(host, "sub", "keep")); err != nil || string(b) != "host data" {
		t.Errorf("the hostPath directory behind the subPath lost its file: %q %v", b, err)
	}
	if _, err := os.Lstat(pod); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the pod directory %s is still there: %v", pod, err)
	}
}
