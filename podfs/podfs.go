package podfs

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bosun-sh/bosun/runtime"
)

// FS is the pods' part of --root-dir: <root-dir>/pods/<uid> per pod. It
// holds no state, so any number of FS values may work on one directory.
type FS struct {
	// Node gives the root directory and the node's facts for downward API files.
	Node runtime.Node
	// Log receives what podfs cannot return (an unmount that failed).
	Log *slog.Logger
}

// podsDir is <root-dir>/pods.
func (f *FS) podsDir() string { return filepath.Join(f.Node.RootDir, "pods") }

// PodDir is the directory of the pod with uid, exactly one component below
// <root-dir>/pods; a uid that is not one path component is refused.
func (f *FS) PodDir(uid string) (string, error) {
	if err := Component(uid); err != nil {
		return "", fmt.Errorf("pod uid: %w", err)
	}
	return Join(f.podsDir(), uid)
}

// podRoot is an open pod directory: every file below it is reached through
// root, so no link below it leads out.
type podRoot struct {
	dir  string
	root *os.Root
}

// openPod creates the pod directory of uid if needed and opens it.
func (f *FS) openPod(uid string) (*podRoot, error) {
	dir, err := f.PodDir(uid)
	if err != nil {
		return nil, err
	}
	if err := MkdirIn(f.podsDir(), dir, 0o755); err != nil {
		return nil, fmt.Errorf("pod directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("pod directory: %w", err)
	}
	return &podRoot{dir: dir, root: root}, nil
}

func (p *podRoot) Close() error { return p.root.Close() }

// path is the host path of rel below the pod directory, for the runtime.
func (p *podRoot) path(rel string) string { return filepath.Join(p.dir, rel) }

// openNoFollow opens name in the directory dir below the pod directory
// with flag|O_NOFOLLOW|O_NONBLOCK: a link or FIFO planted as name is
// neither followed nor waited on.
func (p *podRoot) openNoFollow(dir, name string, flag int, perm uint32) (*os.File, error) {
	d, err := p.root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	fd, err := unix.Openat(int(d.Fd()), name, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, &fs.PathError{Op: "openat", Path: p.path(filepath.Join(dir, name)), Err: err}
	}
	return os.NewFile(uintptr(fd), p.path(filepath.Join(dir, name))), nil
}

// RemovePodDir unmounts what bosun mounted below a pod's directory and
// removes it, once the pod is gone for good. It refuses a uid that is not
// one component below <root-dir>/pods, a pods directory that is a link,
// and a pod directory with a mount left below it (RemoveAll would descend
// into the mounted volume).
func (f *FS) RemovePodDir(uid string) error {
	dir, err := f.PodDir(uid)
	if err != nil {
		return fmt.Errorf("remove pod directory: %w", err)
	}
	if fi, err := os.Lstat(f.podsDir()); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("remove pod directory: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("remove pod directory %s: %s is not a directory (%s)", dir, f.podsDir(), fi.Mode().Type())
	}
	below := mountsBelow(dir)
	for _, m := range below {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && f.Log != nil {
			f.Log.Warn("unmount pod volume", "path", m, "err", err)
		}
	}
	if left := mountsBelow(dir); len(left) > 0 {
		return fmt.Errorf("remove pod directory %s: still mounted below it: %s", dir, strings.Join(left, ", "))
	}
	pods, err := os.OpenRoot(f.podsDir())
	if err != nil {
		return fmt.Errorf("remove pod directory: %w", err)
	}
	defer pods.Close()
	if err := pods.RemoveAll(uid); err != nil {
		return fmt.Errorf("remove pod directory: %w", err)
	}
	return nil
}

// isMountPoint reports whether dir is a mount point of this mount namespace.
func isMountPoint(dir string) bool {
	for _, m := range mountPoints() {
		if m == dir {
			return true
		}
	}
	return false
}

// mountsBelow lists the mount points below dir, deepest first.
func mountsBelow(dir string) []string {
	var below []string
	for _, m := range mountPoints() {
		if strings.HasPrefix(m, dir+"/") {
			below = append(below, m)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(below)))
	return below
}

// mountPoints lists the mount points of this process's mount namespace.
func mountPoints() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 {
			out = append(out, unescapeMountinfo(fields[4]))
		}
	}
	return out
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of a
// mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
