package podfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
)

// newFS is an FS whose --root-dir is a fresh temporary directory.
func newFS(t *testing.T) *FS {
	t.Helper()
	return &FS{Node: runtime.Node{Name: "node1", RootDir: filepath.Join(t.TempDir(), "root"), CPUs: 2, MemoryBytes: 1 << 30}}
}

// loadPod loads a manifest as the daemon does; its first container is main.
func loadPod(t *testing.T, yaml string) (*manifest.StaticPod, *corev1.Container) {
	t.Helper()
	sp, err := manifest.Load("pod.yaml", []byte(yaml), "node1")
	if err != nil {
		t.Fatal(err)
	}
	return sp, &sp.Pod.Spec.Containers[0]
}

// mountAt returns the mount of containerPath, failing the test without one.
func mountAt(t *testing.T, mounts []*runtimeapi.Mount, containerPath string) *runtimeapi.Mount {
	t.Helper()
	for _, m := range mounts {
		if m.ContainerPath == containerPath {
			return m
		}
	}
	t.Fatalf("no mount at %s in %v", containerPath, mounts)
	return nil
}

// hostFile is a file the test owns outside every pod: a link planted in a
// volume points to it, and it must stay as it was.
type hostFile struct {
	path    string
	content string
	mode    os.FileMode
}

func newHostFile(t *testing.T) hostFile {
	t.Helper()
	h := hostFile{path: filepath.Join(t.TempDir(), "shadow"), content: "root:secret\n", mode: 0o600}
	if err := os.WriteFile(h.path, []byte(h.content), h.mode); err != nil {
		t.Fatal(err)
	}
	return h
}

// unchanged fails the test when the host file's content or mode changed.
func (h hostFile) unchanged(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(h.path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(h.path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != h.content || fi.Mode().Perm() != h.mode {
		t.Errorf("host file %s is now %q mode %v, want %q mode %v", h.path, b, fi.Mode().Perm(), h.content, h.mode)
	}
}

// needRoot skips tests that mount.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
}

func mustContain(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one containing %q", err, want)
	}
}
