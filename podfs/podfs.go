package podfs

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

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
	if err := f.makePodDir(uid); err != nil {
		return nil, fmt.Errorf("pod directory %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("pod directory: %w", err)
	}
	return &podRoot{dir: dir, root: root}, nil
}

// podDirMode is the mode of <root-dir>/pods and of each pod directory, as
// the kubelet sets them: no user but root (and root's group) enters a pod's
// volumes, whatever the mode of --root-dir.
const podDirMode = 0o750

// makePodDir makes <root-dir>/pods and the pod directory of uid with
// podDirMode, and sets that mode (fchmod on the opened directory) on either
// when it is there with another; a link in their place is refused.
func (f *FS) makePodDir(uid string) error {
	if err := os.MkdirAll(f.Node.RootDir, 0o700); err != nil {
		return err
	}
	root, err := unix.Open(f.Node.RootDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", f.Node.RootDir, err)
	}
	defer unix.Close(root)
	pods, err := makeDirAt(root, f.podsDir(), "pods", podDirMode)
	if err != nil {
		return err
	}
	defer unix.Close(pods)
	pod, err := makeDirAt(pods, filepath.Join(f.podsDir(), uid), uid, podDirMode)
	if err != nil {
		return err
	}
	return unix.Close(pod)
}

// makeDirAt creates the directory name below dirfd with mode unless it is
// there, opens it without following a link, gives it mode with fchmod when
// its mode differs, and returns the open descriptor; path names it in
// errors.
func makeDirAt(dirfd int, path, name string, mode uint32) (int, error) {
	if err := unix.Mkdirat(dirfd, name, mode); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("mkdir %s: %w", path, err)
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&0o7777 != mode {
		if err := unix.Fchmod(fd, mode); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("chmod %s: %w", path, err)
		}
	}
	return fd, nil
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

// RemovePodDir unmounts what bosun mounted below a pod's directory
// (subPath binds, emptyDir tmpfs) and removes it with RemoveBeneath, once
// the pod is gone for good. It refuses a uid that is not one component
// below <root-dir>/pods and a pods directory that is a link; a mount left
// below the pod directory is never crossed: the error wraps ErrMountBelow
// and what is below that mount stays.
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
	if err := unmountPodVolumes(dir); err != nil {
		return fmt.Errorf("remove pod directory %s: %w", dir, err)
	}
	if err := RemoveBeneath(f.podsDir(), uid); err != nil {
		return fmt.Errorf("remove pod directory: %w", err)
	}
	return nil
}

// podMountParents are the directories below a pod directory whose entries
// (at the given depth) bosun mounts on: subPath binds at
// volume-subpaths/<volume>/<container>/<index>, tmpfs emptyDirs at
// volumes/empty-dir/<name>. No container can write these directories.
var podMountParents = []struct {
	dir   string
	depth int
}{
	{"volume-subpaths", 3},
	{filepath.Join("volumes", "empty-dir"), 1},
}

// unmountPodVolumes unmounts every mount on a target bosun mounts on below
// the pod directory dir, found by walking those targets and deciding on
// their mount IDs; a missing dir has none.
func unmountPodVolumes(dir string) error {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	var errs []error
	for _, m := range podMountParents {
		errs = append(errs, unmountTargets(root, dir, m.dir, m.depth))
	}
	return errors.Join(errs...)
}

// unmountTargets unmounts the mounts on the entries depth levels below rel
// in root (the pod directory at dir), not following links.
func unmountTargets(root *os.Root, dir, rel string, depth int) error {
	d, err := root.Open(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Join(dir, rel), err)
	}
	var errs []error
	for _, e := range entries {
		if depth > 1 {
			if e.IsDir() {
				errs = append(errs, unmountTargets(root, dir, filepath.Join(rel, e.Name()), depth-1))
			}
			continue
		}
		if _, err := unmountAt(int(d.Fd()), filepath.Join(dir, rel, e.Name()), e.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
