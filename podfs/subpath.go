package podfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// subPathTarget names the bind mount of one volumeMount of one container:
// <pod dir>/volume-subpaths/<volume>/<container>/<index>, as the kubelet
// names it. No container can write those directories.
type subPathTarget struct {
	volume, container string
	index             int
}

func (t subPathTarget) rel() (string, error) {
	if err := Component(t.container); err != nil {
		return "", fmt.Errorf("container name: %w", err)
	}
	if err := Component(t.volume); err != nil {
		return "", fmt.Errorf("volume name: %w", err)
	}
	return Join("volume-subpaths", t.volume, t.container, strconv.Itoa(t.index))
}

// bindSubPath resolves sub below the volume at volHost without following
// any link out of it (missing directories are created the same way), opens
// it, and bind-mounts the open descriptor (/proc/self/fd/N) onto the
// target below the pod directory, whose path it returns for the runtime: a
// link the container swaps in after the check cannot redirect the mount.
// Every mount left on the target by an earlier start (found by mount ID, not
// by name) is unmounted first, so each start checks again and mounts do not
// stack.
func bindSubPath(pod *podRoot, volHost string, t subPathTarget, sub string) (string, error) {
	if err := checkRel(sub); err != nil {
		return "", fmt.Errorf("subPath: %w", err)
	}
	rel, err := t.rel()
	if err != nil {
		return "", err
	}
	vol, err := unix.Open(volHost, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("subPath %s: open volume %s: %w", sub, volHost, err)
	}
	defer unix.Close(vol)
	src, err := resolveBeneath(vol, sub, true, 0o755)
	if errors.Is(err, ErrOutside) {
		return "", fmt.Errorf("subPath %s leads outside the volume through a link; refused: %w", sub, err)
	}
	if err != nil {
		return "", fmt.Errorf("subPath %s: %w", sub, err)
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return "", fmt.Errorf("subPath %s: %w", sub, err)
	}
	target := pod.path(rel)
	if _, err := pod.unmount(rel); err != nil {
		return "", fmt.Errorf("subPath %s: unmount the earlier mount: %w", sub, err)
	}
	if err := makeMountTarget(pod, rel, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
		return "", fmt.Errorf("subPath %s: %w", sub, err)
	}
	if err := unix.Mount("/proc/self/fd/"+strconv.Itoa(src), target, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("subPath %s: bind mount on %s: %w", sub, target, err)
	}
	return target, nil
}

// makeMountTarget makes rel below the pod directory an empty directory, or
// an empty file, to mount a directory or a file on.
func makeMountTarget(pod *podRoot, rel string, dir bool) error {
	if err := pod.root.MkdirAll(filepath.Dir(rel), 0o750); err != nil {
		return err
	}
	if fi, err := pod.root.Lstat(rel); err == nil {
		if fi.IsDir() == dir && (dir || fi.Mode().IsRegular()) {
			return nil
		}
		if err := pod.removeBeneath(rel); err != nil {
			return err
		}
	}
	if dir {
		return pod.root.Mkdir(rel, 0o750)
	}
	fh, err := pod.root.OpenFile(rel, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	return fh.Close()
}
