package podfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrMountBelow is the error of a removal that found a mount in its way: it
// removed nothing below that mount and left the directories above it.
var ErrMountBelow = errors.New("a mount is in the way; not removed")

// removePasses bounds how often one directory is read again when its
// removal finds it not empty (a writer still adding entries).
const removePasses = 8

// RemoveBeneath removes the entry name (one path component) of the
// directory dir and everything below it: it never follows a link (a link is
// unlinked, its target stays), never crosses into another mount (decided by
// mount IDs and openat2 RESOLVE_NO_XDEV on open descriptors, not by path
// names), and returns an error wrapping ErrMountBelow, naming the path, when
// a mount is in the way. A missing name is not an error.
func RemoveBeneath(dir, name string) error {
	if err := Component(name); err != nil {
		return fmt.Errorf("remove below %s: %w", dir, err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove below %s: open: %w", dir, err)
	}
	defer unix.Close(fd)
	return removeAt(fd, dir, name)
}

// removeAt is RemoveBeneath below the open directory dirfd, whose path
// (for messages only) is dir.
func removeAt(dirfd int, dir, name string) error {
	mnt, err := mountID(dirfd, "")
	if err != nil {
		return fmt.Errorf("remove below %s: %w", dir, err)
	}
	return removeEntry(dirfd, mnt, filepath.Join(dir, name), name)
}

// removeEntry removes name below the directory parent, which is on the
// mount parentMnt; path names the entry in messages.
func removeEntry(parent int, parentMnt uint64, path, name string) error {
	var st unix.Statx_t
	err := unix.Statx(parent, name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, unix.STATX_TYPE|unix.STATX_MNT_ID, &st)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: statx: %w", path, err)
	}
	if mounted, err := isMountRoot(&st, parentMnt); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	} else if mounted {
		return fmt.Errorf("remove %s: %w", path, ErrMountBelow)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unlinkAt(parent, path, name, 0)
	}
	fd, err := openDirBeneath(parent, name)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EXDEV):
		return fmt.Errorf("remove %s: %w", path, ErrMountBelow)
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
		// name was swapped for a link or a file since the statx: unlink that.
		return unlinkAt(parent, path, name, 0)
	case err != nil:
		return fmt.Errorf("remove %s: open: %w", path, err)
	}
	defer unix.Close(fd)
	if mnt, err := mountID(fd, ""); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	} else if mnt != parentMnt {
		return fmt.Errorf("remove %s: %w", path, ErrMountBelow)
	}
	for pass := 0; ; pass++ {
		if err := removeChildren(fd, parentMnt, path); err != nil {
			return err
		}
		err := unlinkAt(parent, path, name, unix.AT_REMOVEDIR)
		if !errors.Is(err, unix.ENOTEMPTY) || pass == removePasses-1 {
			return err
		}
	}
}

// removeChildren removes every entry of the open directory fd (on the
// mount mnt, at path), reading it in batches so a huge directory costs
// bounded memory; it stops at the first error.
func removeChildren(fd int, mnt uint64, path string) error {
	// Each pass reads through its own descriptor, from the start.
	own, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("remove %s: open: %w", path, err)
	}
	d := os.NewFile(uintptr(own), path)
	defer d.Close()
	for {
		names, err := d.Readdirnames(1024)
		for _, n := range names {
			if err := removeEntry(fd, mnt, filepath.Join(path, n), n); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(names) == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("remove %s: read: %w", path, err)
		}
	}
}

// unlinkAt unlinks name below parent with flags; a missing name is nil and
// EBUSY (the kernel refusing to unlink a mount point) is ErrMountBelow.
func unlinkAt(parent int, path, name string, flags int) error {
	err := unix.Unlinkat(parent, name, flags)
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("remove %s: %w: %w", path, ErrMountBelow, err)
	}
	return fmt.Errorf("remove %s: %w", path, err)
}

// openDirBeneath opens the directory name below parent for reading,
// refusing a link (ELOOP) and a mount crossing (EXDEV).
func openDirBeneath(parent int, name string) (int, error) {
	for {
		fd, err := unix.Openat2(parent, name, &unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS,
		})
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		return fd, err
	}
}

// removeIn is RemoveBeneath of name below the directory of root, whose
// path (for messages only) is dir.
func removeIn(root *os.Root, dir, name string) error {
	if err := Component(name); err != nil {
		return fmt.Errorf("remove below %s: %w", dir, err)
	}
	d, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("remove below %s: %w", dir, err)
	}
	defer d.Close()
	return removeAt(int(d.Fd()), dir, name)
}

// removeBeneath removes rel below the pod directory as RemoveBeneath does,
// opening rel's directory below the pod's root.
func (p *podRoot) removeBeneath(rel string) error {
	d, err := p.root.Open(filepath.Dir(rel))
	if err != nil {
		return fmt.Errorf("remove %s: %w", p.path(rel), err)
	}
	defer d.Close()
	return removeAt(int(d.Fd()), p.path(filepath.Dir(rel)), filepath.Base(rel))
}
