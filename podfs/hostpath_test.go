package podfs

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCheckHostPath(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	typ := func(t corev1.HostPathType) *corev1.HostPathType { return &t }
	for _, tc := range []struct {
		path string
		t    corev1.HostPathType
		want string
	}{
		{filepath.Join(dir, "new/dir"), corev1.HostPathDirectoryOrCreate, ""},
		{filepath.Join(dir, "new2/file"), corev1.HostPathFileOrCreate, ""},
		{file, corev1.HostPathFileOrCreate, ""},
		{file, corev1.HostPathDirectoryOrCreate, "is not a directory"},
		{filepath.Join(dir, "missing"), corev1.HostPathDirectory, "does not exist (type Directory)"},
		{dir, corev1.HostPathFile, "is not a file"},
		{sock, corev1.HostPathSocket, ""},
		{file, corev1.HostPathSocket, "is not a socket"},
		{filepath.Join(dir, "anything"), corev1.HostPathUnset, ""},
	} {
		err := checkHostPath(&corev1.HostPathVolumeSource{Path: tc.path, Type: typ(tc.t)})
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s %s: %v, want %q", tc.path, tc.t, err, tc.want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "new/dir")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("DirectoryOrCreate made %v %v, want 0755", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "new2/file")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("FileOrCreate made %v %v, want 0644", fi, err)
	}
}
