package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountSmallTmpfs mounts a tmpfs of 4 MiB and 4096 inodes on dir.
func mountSmallTmpfs(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m,nr_inodes=4096,mode=0755"); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", dir, err)
	}
}

// fill takes every block and every inode of the file system of dir, with
// files named .filler* in dir, and returns a function that frees them.
func fill(t *testing.T, dir string) (free func()) {
	t.Helper()
	big, err := os.Create(filepath.Join(dir, ".filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := big.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	big.Close()
	for i := 0; ; i++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf(".filler-%d", i)))
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
		f.Close()
	}
	return func() {
		matches, _ := filepath.Glob(filepath.Join(dir, ".filler*"))
		for _, m := range matches {
			_ = os.Remove(m)
		}
	}
}

// downwardPod is a pod on the pod network (bosun writes its /etc/hosts)
// with a downward API volume (bosun writes its files), logging a line every
// half second.
func downwardPod(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels: {app: %s}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "while true; do echo tick; sleep 0.5; done"]
    volumeMounts:
    - {name: info, mountPath: /info}
  volumes:
  - name: info
    downwardAPI:
      items:
      - path: labels
        fieldRef: {fieldPath: metadata.labels}
`, name, name, busybox)
}

// TestDiskFull: the pod logs dir and bosun's root dir full (blocks and
// inodes). Running pods are untouched; a new pod fails with an error naming
// the full disk in `bosun ps` and events; once space is freed it starts, and
// a restarted bosun finds nothing half-written: it adopts everything
// without a mutating call.
func TestDiskFull(t *testing.T) {
	e, p := newProxiedEnv(t)
	mountSmallTmpfs(t, e.logsDir)
	mountSmallTmpfs(t, e.rootDir)
	t.Cleanup(func() {
		e.stopBosun(syscall.SIGTERM)
		e.removePods()
		unmountBelow(e.rootDir)
		for _, d := range []string{e.logsDir, e.rootDir} {
			_ = syscall.Unmount(d, syscall.MNT_DETACH)
		}
	})
	e.startBosun()
	e.write("dfa.yaml", downwardPod("dfa"))
	running := e.settled("dfa")

	for i, dir := range []string{e.rootDir, e.logsDir} {
		name := fmt.Sprintf("dfb%d", i)
		free := fill(t, dir)
		mark, events := p.Mark(), len(e.cli("events"))
		e.write(name+".yaml", downwardPod(name))
		eventually(t, time.Minute, "an event naming the full disk "+dir, func() bool {
			return strings.Contains(e.cli("events")[events:], "no space left on device")
		})
		row := e.psRow(name)
		if strings.Contains(row, "Running") || row == "" {
			t.Errorf("%s full: bosun ps shows the pod that cannot start as %q", dir, row)
		}
		if inspect := e.cli("inspect", e.podName(name)); !strings.Contains(inspect, "no space left on device") {
			t.Errorf("%s full: bosun inspect does not name the full disk:\n%s", dir, inspect)
		}
		if c := e.pod("dfa").running("main"); c == nil || c.Id != running.Id {
			t.Fatalf("%s full: the running pod was touched: %v", dir, c)
		}
		t.Logf("%s full: mutating calls %v", dir, p.Since(mark, true))
		free()
		e.settled(name)
		if c := e.settled("dfa"); c.Id != running.Id {
			t.Errorf("the running pod was replaced: %s, was %s", c.Id, running.Id)
		}
	}

	// Nothing half-written is left that a restarted bosun trips over.
	e.stopBosun(syscall.SIGTERM)
	var leftovers []string
	_ = filepath.WalkDir(e.rootDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp") {
			leftovers = append(leftovers, path)
		}
		return nil
	})
	if len(leftovers) > 0 {
		t.Errorf("temporary files left in the root dir: %v", leftovers)
	}
	mark := p.Mark()
	e.startBosun()
	e.noMutationsFor(p, mark, 3)
	for _, n := range []string{"dfa", "dfb0", "dfb1"} {
		e.settled(n)
	}
}
