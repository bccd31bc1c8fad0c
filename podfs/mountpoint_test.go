package podfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bosun-sh/bosun/runtime"
)

// isMountPoint reports whether path is a mount point, decided by mount IDs.
func isMountPoint(t *testing.T, path string) bool {
	t.Helper()
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ok, err := mountedAt(int(d.Fd()), filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// hostPathSubPathPod mounts the hostPath host through subPath "sub" and a
// memory emptyDir "mem".
func hostPathSubPathPod(host string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hp, uid: 7d0c9e1a-3b2f-4e5d-8c6b-1a2b3c4d5e6f}
spec:
  volumes:
  - {name: host, hostPath: {path: %s, type: Directory}}
  - {name: mem, emptyDir: {medium: Memory}}
  containers:
  - name: main
    image: busybox
    volumeMounts:
    - {name: host, mountPath: /host, subPath: sub}
    - {name: mem, mountPath: /mem}
`, host)
}

// mountsOn counts the mounts stacked on path (a canonical path), from
// mountinfo: only this test compares mount point names.
func mountsOn(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if fields := strings.Fields(line); len(fields) > 4 && fields[4] == path {
			n++
		}
	}
	return n
}

func TestARootDirGivenThroughALinkStillFindsBosunsMountsAndNeverRemovesThroughThem(t *testing.T) {
	needRoot(t)
	real := filepath.Join(t.TempDir(), "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	f := &FS{Node: runtime.Node{Name: "node1", RootDir: link, CPUs: 2, MemoryBytes: 1 << 30}}
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "sub", "keep"), []byte("host data"), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, c := loadPod(t, hostPathSubPathPod(host))
	t.Cleanup(func() {
		pod := filepath.Join(real, "pods", sp.UID)
		for _, p := range []string{filepath.Join(pod, "volume-subpaths", "host", "main", "0"), filepath.Join(pod, "volumes", "empty-dir", "mem")} {
			for mountsOn(t, p) > 0 {
				_ = unix.Unmount(p, unix.MNT_DETACH)
			}
		}
	})
	mounts, err := f.PrepareMounts(sp, c, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	mem := mountAt(t, mounts, "/mem").HostPath
	if err := os.WriteFile(filepath.Join(mem, "written"), []byte("by the container"), 0o600); err != nil {
		t.Fatal(err)
	}
	// bosun restarts and starts the container again.
	if _, err := f.PrepareMounts(sp, c, 1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mem, "written")); err != nil {
		t.Errorf("the memory emptyDir was mounted again, over what the container wrote: %v", err)
	}
	pod := filepath.Join(real, "pods", sp.UID)
	for _, p := range []string{filepath.Join(pod, "volume-subpaths", "host", "main", "0"), filepath.Join(pod, "volumes", "empty-dir", "mem")} {
		if n := mountsOn(t, p); n != 1 {
			t.Errorf("%d mounts on %s after a restart, want 1", n, p)
		}
	}
	if err := f.RemovePodDir(sp.UID); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(host, "sub", "keep")); err != nil || string(b) != "host data" {
		t.Errorf("the hostPath directory behind the subPath lost its file: %q %v", b, err)
	}
	if _, err := os.Lstat(pod); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the pod directory is still there: %v", err)
	}
}

func TestAStatxWithoutAMountIDIsAnErrorNeverNotMounted(t *testing.T) {
	for name, st := range map[string]unix.Statx_t{
		"no mount ID":                 {Mask: unix.STATX_TYPE},
		"no mount ID, other mount ID": {Mask: unix.STATX_TYPE, Mnt_id: 7},
	} {
		if mounted, err := isMountRoot(&st, 1); err == nil {
			t.Errorf("%s: isMountRoot = %v, nil; want an error", name, mounted)
		}
	}
	for name, c := range map[string]struct {
		st   unix.Statx_t
		want bool
	}{
		"same mount":            {unix.Statx_t{Mask: unix.STATX_MNT_ID, Mnt_id: 1}, false},
		"other mount":           {unix.Statx_t{Mask: unix.STATX_MNT_ID, Mnt_id: 2}, true},
		"marked as mount root":  {unix.Statx_t{Mask: unix.STATX_MNT_ID, Mnt_id: 1, Attributes_mask: unix.STATX_ATTR_MOUNT_ROOT, Attributes: unix.STATX_ATTR_MOUNT_ROOT}, true},
		"mount root not marked": {unix.Statx_t{Mask: unix.STATX_MNT_ID, Mnt_id: 1, Attributes_mask: unix.STATX_ATTR_MOUNT_ROOT}, false},
	} {
		if got, err := isMountRoot(&c.st, 1); err != nil || got != c.want {
			t.Errorf("%s: isMountRoot = %v, %v; want %v", name, got, err, c.want)
		}
	}
}
