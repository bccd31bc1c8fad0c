package podfs

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// allocated is how many bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// writeLog writes a container log at <dir>/<pod>/<container>/0.log, as
// ContainerLog names it, and returns its path.
func writeLog(t *testing.T, dir, content string) string {
	t.Helper()
	cdir := filepath.Join(dir, "default_web_u1", "main")
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cdir, "0.log")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLogTailOfAHugeLineWithoutANewlineReadsOnlyTheEndOfTheFile(t *testing.T) {
	// 32 MiB of partial entries of one line, then its end: the message is
	// its last 2048 bytes, and the read allocates a small multiple of
	// maxTailRead, not the line.
	var b strings.Builder
	entry := "2026-01-01T00:00:00Z stdout P " + strings.Repeat("x", 16<<10) + "\n"
	for b.Len() < 32<<20 {
		b.WriteString(entry)
	}
	b.WriteString("2026-01-01T00:00:01Z stdout F the end\n")
	path := writeLog(t, t.TempDir(), b.String())
	var tail string
	if n := allocated(func() { tail = LogTail(path) }); n > 1<<20 {
		t.Errorf("LogTail allocated %d bytes for a %d-byte log", n, b.Len())
	}
	if want := strings.Repeat("x", 2048-len("the end")) + "the end"; tail != want {
		t.Errorf("tail is %d bytes ending %q, want the line's last 2048 bytes", len(tail), tail[max(len(tail)-20, 0):])
	}
}

func TestLogTailFollowsNoLinkInTheLogDirectories(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("2026-01-01T00:00:00Z stdout F root's secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := writeLog(t, dir, "")
	// The log file replaced by a link.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, path); err != nil {
		t.Fatal(err)
	}
	if got := LogTail(path); got != "" {
		t.Errorf("a linked log file read as %q", got)
	}
	// The container directory replaced by a link to a directory holding a 0.log.
	other := filepath.Join(t.TempDir(), "other")
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(secret, filepath.Join(other, "0.log")); err != nil {
		t.Fatal(err)
	}
	cdir := filepath.Dir(path)
	if err := os.RemoveAll(cdir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, cdir); err != nil {
		t.Fatal(err)
	}
	if got := LogTail(path); got != "" {
		t.Errorf("a log below a linked container directory read as %q", got)
	}
}

func TestLogTailOfAFIFODoesNotBlock(t *testing.T) {
	path := writeLog(t, t.TempDir(), "")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if got := LogTail(path); got != "" {
		t.Errorf("a FIFO read as %q", got)
	}
}

func TestPruneRemovesNothingBelowALinkedContainerDirectory(t *testing.T) {
	l := &Logs{Dir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}
	p := PodRef{Namespace: "default", Name: "web", UID: "u1"}
	elsewhere := t.TempDir()
	if err := os.WriteFile(filepath.Join(elsewhere, "0.log"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(l.PodDir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(l.PodDir(p), "main")); err != nil {
		t.Fatal(err)
	}
	l.Prune(p, "main", map[uint32]bool{1: true})
	if _, err := os.Stat(filepath.Join(elsewhere, "0.log")); err != nil {
		t.Errorf("Prune removed a file through a linked container directory: %v", err)
	}
}

func TestRemovePodLeavesWhatIsMountedBelowTheLogDirectory(t *testing.T) {
	needRoot(t)
	l := &Logs{Dir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}
	p := PodRef{Namespace: "default", Name: "web", UID: "u1"}
	mnt := filepath.Join(l.PodDir(p), "main", "mnt")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(mnt, "data"), []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.RemovePod(p)
	if _, err := os.Stat(filepath.Join(mnt, "data")); err != nil {
		t.Errorf("RemovePod removed a file on a mount below the pod's log directory: %v", err)
	}
}
