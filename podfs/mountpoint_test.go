package podfs

import (
	"os"
	"path/filepath"
	"testing"
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
