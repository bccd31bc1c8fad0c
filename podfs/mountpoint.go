package podfs

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// errNoMountID is the error of a kernel that does not report mount IDs
// (statx STATX_MNT_ID, Linux 5.8): whether a path is a mount point cannot be
// decided, so nothing that depends on it is done.
var errNoMountID = errors.New("statx reports no mount ID (Linux 5.8 or newer is needed)")

// maxStacked bounds how many mounts stacked on one target are unmounted
// before bosun gives up on it.
const maxStacked = 1024

// mountID is the mount ID of name below dirfd, or of dirfd itself when name
// is "", never following a link.
func mountID(dirfd int, name string) (uint64, error) {
	flags := unix.AT_SYMLINK_NOFOLLOW | unix.AT_NO_AUTOMOUNT
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	var st unix.Statx_t
	if err := unix.Statx(dirfd, name, flags, unix.STATX_MNT_ID, &st); err != nil {
		return 0, fmt.Errorf("statx: %w", err)
	}
	if st.Mask&unix.STATX_MNT_ID == 0 {
		return 0, errNoMountID
	}
	return st.Mnt_id, nil
}

// isMountRoot reports whether the entry st describes (from a statx of an
// entry of a directory on the mount parentMnt) is the root of another mount:
// its mount ID differs from its directory's, or the kernel marks it
// STATX_ATTR_MOUNT_ROOT. Without a mount ID it is an error, never false.
func isMountRoot(st *unix.Statx_t, parentMnt uint64) (bool, error) {
	if st.Mask&unix.STATX_MNT_ID == 0 {
		return false, errNoMountID
	}
	if st.Mnt_id != parentMnt {
		return true, nil
	}
	return st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
}

// mountedAt reports whether name below the open directory dirfd is a mount
// point; a missing name is not.
func mountedAt(dirfd int, name string) (bool, error) {
	parent, err := mountID(dirfd, "")
	if err != nil {
		return false, err
	}
	var st unix.Statx_t
	err = unix.Statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, unix.STATX_TYPE|unix.STATX_MNT_ID, &st)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("statx: %w", err)
	}
	return isMountRoot(&st, parent)
}

// unmountAt unmounts (MNT_DETACH) every mount stacked on name below the
// open directory dirfd, through a descriptor of the mount's root rather
// than a path, and reports how many it unmounted; path names it in errors.
func unmountAt(dirfd int, path, name string) (int, error) {
	for n := 0; ; n++ {
		mounted, err := mountedAt(dirfd, name)
		if err != nil {
			return n, fmt.Errorf("%s: %w", path, err)
		}
		if !mounted {
			return n, nil
		}
		if n == maxStacked {
			return n, fmt.Errorf("%s: still mounted after %d unmounts", path, n)
		}
		fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return n, fmt.Errorf("%s: open: %w", path, err)
		}
		err = unix.Unmount("/proc/self/fd/"+strconv.Itoa(fd), unix.MNT_DETACH)
		unix.Close(fd)
		if err != nil {
			return n, fmt.Errorf("unmount %s: %w", path, err)
		}
	}
}

// mounted reports whether rel below the pod directory is a mount point; a
// missing rel is not.
func (p *podRoot) mounted(rel string) (bool, error) {
	d, err := p.root.Open(filepath.Dir(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer d.Close()
	ok, err := mountedAt(int(d.Fd()), filepath.Base(rel))
	if err != nil {
		return false, fmt.Errorf("%s: %w", p.path(rel), err)
	}
	return ok, nil
}

// unmount unmounts every mount stacked on rel below the pod directory; a
// missing rel has none.
func (p *podRoot) unmount(rel string) (int, error) {
	d, err := p.root.Open(filepath.Dir(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer d.Close()
	return unmountAt(int(d.Fd()), p.path(rel), filepath.Base(rel))
}
