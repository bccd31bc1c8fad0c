package podfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/bosun-sh/bosun/runtime"
)

// asNobody runs a shell command as uid and gid 65534 and reports whether it
// succeeded.
func asNobody(t *testing.T, script string) bool {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd.Run() == nil
}

func TestPodDirectoriesAre0750SoAnotherUserCannotReachAnEmptyDirUnderAnOpenRootDir(t *testing.T) {
	needRoot(t)
	// An existing install: a root dir, pods dir and pod dir anyone may enter.
	base, err := os.MkdirTemp("", "bosun-modes")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	sp, c := loadPod(t, subPathPod("subPath: x"))
	root := filepath.Join(base, "root")
	for _, d := range []string{base, root, filepath.Join(root, "pods"), filepath.Join(root, "pods", sp.UID)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := &FS{Node: runtime.Node{Name: "node1", RootDir: root, CPUs: 2, MemoryBytes: 1 << 30}}
	t.Cleanup(func() { _ = f.RemovePodDir(sp.UID) })
	mounts, err := f.PrepareMounts(sp, c, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	vol := mountAt(t, mounts, "/data").HostPath
	for d, want := range map[string]os.FileMode{
		filepath.Join(root, "pods"): 0o750, filepath.Join(root, "pods", sp.UID): 0o750, vol: 0o777,
	} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v %v, want %v", d, fi.Mode().Perm(), err, want)
		}
	}
	if !asNobody(t, "test -x "+root) {
		t.Fatal("the test's root dir is not open to other users; the test proves nothing")
	}
	if asNobody(t, "echo planted > "+filepath.Join(vol, "planted")) {
		t.Error("another user wrote into a running pod's emptyDir")
	}
	if _, err := os.Lstat(filepath.Join(vol, "planted")); err == nil {
		t.Error("another user's file is in the pod's emptyDir")
	}
}
