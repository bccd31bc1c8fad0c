package podfs

import (
	"os"
	"path/filepath"
	"testing"
)

const downwardPod = `apiVersion: v1
kind: Pod
metadata: {name: dw, labels: {app: dw}}
spec:
  volumes:
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: sub/name, fieldRef: {fieldPath: metadata.name}, mode: 0600}
  containers:
  - name: main
    image: busybox
    volumeMounts:
    - {name: info, mountPath: /info}
`

func TestDownwardAPIIsReadOnlyAndAtomic(t *testing.T) {
	f := newFS(t)
	sp, c := loadPod(t, downwardPod)
	mounts, err := f.PrepareMounts(sp, c, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	m := mountAt(t, mounts, "/info")
	if !m.Readonly {
		t.Error("the downwardAPI volume is mounted read-write; want read-only always")
	}
	data, err := os.Readlink(filepath.Join(m.HostPath, "..data"))
	if err != nil {
		t.Fatalf("no ..data link: %v", err)
	}
	for name, want := range map[string]string{"labels": `app="dw"`, "sub/name": "dw-node1"} {
		if b, err := os.ReadFile(filepath.Join(m.HostPath, name)); err != nil || string(b) != want {
			t.Errorf("%s reads %q %v, want %q", name, b, err, want)
		}
	}
	for name, want := range map[string]string{"labels": "..data/labels", "sub": "..data/sub"} {
		if got, err := os.Readlink(filepath.Join(m.HostPath, name)); err != nil || got != want {
			t.Errorf("%s is a link to %q (%v), want %q", name, got, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(m.HostPath, "sub/name")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("sub/name has mode %v (%v), want 0600", fi.Mode(), err)
	}

	// A restart with the same content writes nothing.
	if _, err := f.PrepareMounts(sp, c, 1, ""); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(m.HostPath, "..data")); again != data {
		t.Errorf("unchanged content was written again: ..data %s, then %s", data, again)
	}

	// New content goes to a new data directory; the old one is removed.
	sp.Pod.Labels["app"] = "dw2"
	if _, err := f.PrepareMounts(sp, c, 2, ""); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(m.HostPath, "labels")); string(b) != `app="dw2"` {
		t.Errorf("labels reads %q after the change, want app=\"dw2\"", b)
	}
	if next, _ := os.Readlink(filepath.Join(m.HostPath, "..data")); next == data {
		t.Error("changed content was written into the old data directory")
	}
	if _, err := os.Lstat(filepath.Join(m.HostPath, data)); !os.IsNotExist(err) {
		t.Errorf("the old data directory %s is still there (%v)", data, err)
	}
}

func TestDownwardAPINeverFollowsAPlantedLink(t *testing.T) {
	f := newFS(t)
	host := newHostFile(t)
	sp, c := loadPod(t, downwardPod)
	mounts, err := f.PrepareMounts(sp, c, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	vol := mountAt(t, mounts, "/info").HostPath
	// What a container that could write the volume would do: labels (and
	// the data directory's own file) become links to a host file.
	for _, name := range []string{"labels", "..data/labels"} {
		p := filepath.Join(vol, name)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(host.path, p); err != nil {
			t.Fatal(err)
		}
	}
	sp.Pod.Labels["app"] = "changed"
	if _, err := f.PrepareMounts(sp, c, 1, ""); err != nil {
		t.Fatal(err)
	}
	host.unchanged(t)
	if b, err := os.ReadFile(filepath.Join(vol, "labels")); err != nil || string(b) != `app="changed"` {
		t.Errorf("labels reads %q %v after the restart, want app=\"changed\"", b, err)
	}
}

func TestDownwardAPIRefusesReservedNames(t *testing.T) {
	f := newFS(t)
	// Validation refuses such a path too; podfs must not rely on it.
	sp, c := loadPod(t, downwardPod)
	sp.Pod.Spec.Volumes[0].DownwardAPI.Items[0].Path = "..data/labels"
	_, err := f.PrepareMounts(sp, c, 0, "")
	mustContain(t, err, "may not start with '..'")
}
