package podfs

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// subPathPod has an emptyDir mounted whole and at /sub with the given
// subPath or subPathExpr; $(DIR) expands to abs/expr, $(UP) to ../...
func subPathPod(sub string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: sp, uid: 0b7c1e52-9a34-4f21-8d6e-5f4a3b2c1d0e}
spec:
  volumes:
  - {name: data, emptyDir: {}}
  containers:
  - name: main
    image: busybox
    env: [{name: DIR, value: abs/expr}, {name: UP, value: ../..}]
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: data, mountPath: /sub, %s}
`, sub)
}

// emptyDirOf makes the pod's mounts once and returns the emptyDir's host path.
func emptyDirOf(t *testing.T, f *FS) string {
	t.Helper()
	sp, c := loadPod(t, subPathPod("subPath: x"))
	mounts, err := f.PrepareMounts(sp, c, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	return mountAt(t, mounts, "/data").HostPath
}

func TestSubPathNeverLeavesTheVolume(t *testing.T) {
	needRoot(t)
	f := newFS(t)
	t.Cleanup(func() { _ = f.RemovePodDir("0b7c1e52-9a34-4f21-8d6e-5f4a3b2c1d0e") })
	vol := emptyDirOf(t, f)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	// What a container plants in its emptyDir before it restarts.
	for name, target := range map[string]string{"abs": outside, "up": "../../../../../../../../../../" + outside, "file": filepath.Join(outside, "secret")} {
		if err := os.Symlink(target, filepath.Join(vol, name)); err != nil {
			t.Fatal(err)
		}
	}
	for mount, want := range map[string]string{
		"subPath: abs": "outside the volume", "subPath: abs/new": "outside the volume",
		"subPath: up/new/deeper": "outside the volume", "subPath: file": "outside the volume",
		"subPathExpr: $(DIR)": "outside the volume", "subPathExpr: $(UP)/x": "may not contain '..'",
		"subPathExpr: /$(DIR)": "may not be absolute",
	} {
		t.Run(mount, func(t *testing.T) {
			sp, c := loadPod(t, subPathPod(mount))
			_, err := f.PrepareMounts(sp, c, 1, "")
			mustContain(t, err, want)
		})
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("a subPath created %v in the host directory the links point to", entries)
	}
}

func TestSubPathIsABindMountThatCannotBeSwapped(t *testing.T) {
	needRoot(t)
	f := newFS(t)
	t.Cleanup(func() { _ = f.RemovePodDir("0b7c1e52-9a34-4f21-8d6e-5f4a3b2c1d0e") })
	vol := emptyDirOf(t, f)
	if err := os.MkdirAll(filepath.Join(vol, "real/dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "real/dir/hello"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A link that stays inside the volume is followed, as the kubelet does.
	if err := os.Symlink("real", filepath.Join(vol, "in")); err != nil {
		t.Fatal(err)
	}
	sp, c := loadPod(t, subPathPod("subPath: in/dir"))
	mounts, err := f.PrepareMounts(sp, c, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	m := mountAt(t, mounts, "/sub")
	pod, _ := f.PodDir(sp.UID)
	if want := filepath.Join(pod, "volume-subpaths", "data", "main", "1"); m.HostPath != want {
		t.Errorf("subPath handed to the runtime as %s, want the bind mount %s", m.HostPath, want)
	}
	if !isMountPoint(t, m.HostPath) {
		t.Fatalf("%s is not a mount point", m.HostPath)
	}
	// The container swaps the directory for a link after the mount: what
	// the runtime mounts is still the directory that was checked.
	if err := os.Rename(filepath.Join(vol, "real"), filepath.Join(vol, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(vol, "real")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(m.HostPath, "hello")); err != nil || string(b) != "inside" {
		t.Errorf("the subPath mount reads %q %v, want the checked directory's file", b, err)
	}
	// A restart mounts again, not on top of the old mount.
	if _, err := f.PrepareMounts(sp, c, 1, ""); err == nil {
		t.Error("a restart mounted in/dir although it now leads through a link to /")
	}
	if err := f.RemovePodDir(sp.UID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pod); !os.IsNotExist(err) {
		t.Errorf("the pod directory is still there: %v", err)
	}
}
