package podfs

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const plainPod = `apiVersion: v1
kind: Pod
metadata: {name: plain, uid: 3f8c2a4e-0d1b-4c55-9a7e-1c2d3e4f5a6b}
spec:
  containers:
  - {name: main, image: busybox}
`

// termFile makes the termination message file of main's instance 0 and
// returns its host path.
func termFile(t *testing.T, f *FS) string {
	t.Helper()
	sp, c := loadPod(t, plainPod)
	mounts, err := f.PrepareMounts(sp, c, 0, "10.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	return mountAt(t, mounts, "/dev/termination-log").HostPath
}

func TestTerminationMessageKeepsTheLast4KiB(t *testing.T) {
	f := newFS(t)
	file := termFile(t, f)
	msg := strings.Repeat("x", 5000) + "the end"
	if err := os.WriteFile(file, []byte(msg), 0o666); err != nil {
		t.Fatal(err)
	}
	got := f.TerminationMessage("3f8c2a4e-0d1b-4c55-9a7e-1c2d3e4f5a6b", "main", 0)
	if len(got) != 4096 || !strings.HasSuffix(got, "the end") {
		t.Errorf("message of %d bytes ending %q, want the last 4096 bytes", len(got), got[max(len(got)-10, 0):])
	}
}

func TestTerminationMessageIsNotReadThroughALink(t *testing.T) {
	f := newFS(t)
	host := newHostFile(t)
	file := termFile(t, f)
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host.path, file); err != nil {
		t.Fatal(err)
	}
	if got := f.TerminationMessage("3f8c2a4e-0d1b-4c55-9a7e-1c2d3e4f5a6b", "main", 0); got != "" {
		t.Errorf("read %q through a link to a host file", got)
	}
	// A FIFO in its place must not block the reader.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(file, 0o666); err != nil {
		t.Fatal(err)
	}
	if got := f.TerminationMessage("3f8c2a4e-0d1b-4c55-9a7e-1c2d3e4f5a6b", "main", 0); got != "" {
		t.Errorf("read %q from a FIFO", got)
	}
	if _, err := os.Stat(filepath.Dir(file)); err != nil {
		t.Fatal(err)
	}
}
