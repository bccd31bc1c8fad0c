package podfs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// bindMount bind-mounts src on target until the test ends.
func bindMount(t *testing.T, src, target string) {
	t.Helper()
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for isMountPoint(t, target) {
			if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// hostDir is a directory outside every pod holding one file, "keep".
func hostDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.WriteFile(filepath.Join(d, "keep"), []byte("host data"), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

// keeps fails the test unless the hostDir d still holds its file.
func keeps(t *testing.T, d string) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(d, "keep")); err != nil || string(b) != "host data" {
		t.Errorf("host directory %s lost its file: %q %v", d, b, err)
	}
}

func TestRemoveBeneathStopsAtABindMountAndLeavesWhatIsBelowIt(t *testing.T) {
	needRoot(t)
	parent := t.TempDir()
	host := hostDir(t)
	target := filepath.Join(parent, "pod", "volume-subpaths", "v", "c", "0")
	if err := os.MkdirAll(target, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "pod", "other"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	bindMount(t, host, target)
	err := RemoveBeneath(parent, "pod")
	if !errors.Is(err, ErrMountBelow) || !strings.Contains(err.Error(), target) {
		t.Fatalf("RemoveBeneath = %v, want ErrMountBelow naming %s", err, target)
	}
	keeps(t, host)
	if !isMountPoint(t, target) {
		t.Errorf("%s is no longer mounted", target)
	}
}

func TestRemoveBeneathStopsAtAFileBindMount(t *testing.T) {
	needRoot(t)
	parent := t.TempDir()
	host := hostDir(t)
	target := filepath.Join(parent, "pod", "file")
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bindMount(t, filepath.Join(host, "keep"), target)
	if err := RemoveBeneath(parent, "pod"); !errors.Is(err, ErrMountBelow) {
		t.Fatalf("RemoveBeneath = %v, want ErrMountBelow", err)
	}
	keeps(t, host)
}

func TestRemoveBeneathRefusesANameThatIsItselfAMountPoint(t *testing.T) {
	needRoot(t)
	parent := t.TempDir()
	host := hostDir(t)
	if err := os.Mkdir(filepath.Join(parent, "vol"), 0o750); err != nil {
		t.Fatal(err)
	}
	bindMount(t, host, filepath.Join(parent, "vol"))
	if err := RemoveBeneath(parent, "vol"); !errors.Is(err, ErrMountBelow) {
		t.Fatalf("RemoveBeneath = %v, want ErrMountBelow", err)
	}
	keeps(t, host)
}

func TestRemoveBeneathUnlinksLinksAndLeavesTheirTargets(t *testing.T) {
	parent := t.TempDir()
	host := hostDir(t)
	pod := filepath.Join(parent, "pod")
	if err := os.MkdirAll(filepath.Join(pod, "d"), 0o750); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"dirlink": host, "d/filelink": filepath.Join(host, "keep"), "d/up": "../../../../../../.."} {
		if err := os.Symlink(target, filepath.Join(pod, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveBeneath(parent, "pod"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(pod); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is still there: %v", pod, err)
	}
	keeps(t, host)
	if err := RemoveBeneath(parent, "pod"); err != nil {
		t.Errorf("RemoveBeneath of a missing name = %v, want nil", err)
	}
}

func TestRemoveBeneathUnlinksALinkGivenAsTheName(t *testing.T) {
	parent := t.TempDir()
	host := hostDir(t)
	if err := os.Symlink(host, filepath.Join(parent, "pod")); err != nil {
		t.Fatal(err)
	}
	if err := RemoveBeneath(parent, "pod"); err != nil {
		t.Fatal(err)
	}
	keeps(t, host)
}

func TestRemoveBeneathRefusesANameThatIsNotOneComponent(t *testing.T) {
	parent := t.TempDir()
	for _, name := range []string{"", ".", "..", "a/b", "../x"} {
		if err := RemoveBeneath(parent, name); err == nil {
			t.Errorf("RemoveBeneath(%q) = nil, want an error", name)
		}
	}
}

func TestRemoveBeneathRemovesATreeDeeperThanPATH_MAXAndItsDepthBoundAndWiderThanOneRead(t *testing.T) {
	parent := t.TempDir()
	fd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("d", 20)
	for i := 0; i < 3*removeDepth; i++ { // 768 * 21 bytes: over PATH_MAX
		if err := unix.Mkdirat(fd, name, 0o750); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		fd = next
	}
	for i := 0; i < 40*removeBatch; i++ {
		f, err := unix.Openat(fd, "f"+strconv.Itoa(i), unix.O_CREAT|unix.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(f)
	}
	unix.Close(fd)
	if err := RemoveBeneath(parent, name); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("%s still holds %d entries", parent, len(entries))
	}
}
