package podfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

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

// Bounds of one removal under hostile trees: a directory is read
// removeBatch names at a time, and a subtree deeper than removeDepth levels
// is moved up below the removed entry (rename on the same mount) and
// removed from there, so a removal holds at most removeDepth descriptors
// and removeDepth*removeBatch names however deep the tree is.
const (
	removeBatch = 32
	removeDepth = 256
)

// remover is one removal: the removed entry (once open, as top), where it
// is (for messages), and the names from it down to the entry at hand.
type remover struct {
	dir   string
	top   int
	mnt   uint64
	trail []string
	moved int
}

// path names the entry at hand in messages, at most about 1 KiB of it.
func (r *remover) path() string {
	p := filepath.Join(append([]string{r.dir}, r.trail...)...)
	if len(p) > 1024 {
		p = p[:512] + "..." + p[len(p)-512:]
	}
	return p
}

// errorf is an error about the entry at hand.
func (r *remover) errorf(format string, err error) error {
	return fmt.Errorf("remove %s: "+format, r.path(), err)
}

// removeAt is RemoveBeneath below the open directory dirfd, whose path
// (for messages only) is dir.
func removeAt(dirfd int, dir, name string) error {
	mnt, err := mountID(dirfd, "")
	if err != nil {
		return fmt.Errorf("remove below %s: %w", dir, err)
	}
	r := &remover{dir: dir, top: -1, mnt: mnt}
	return r.entry(dirfd, name)
}

// entry removes name below the directory parent, on the removal's mount.
func (r *remover) entry(parent int, name string) error {
	r.trail = append(r.trail, name)
	defer func() { r.trail = r.trail[:len(r.trail)-1] }()
	var st unix.Statx_t
	err := unix.Statx(parent, name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, unix.STATX_TYPE|unix.STATX_MNT_ID, &st)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return r.errorf("statx: %w", err)
	}
	if mounted, err := isMountRoot(&st, r.mnt); err != nil {
		return r.errorf("%w", err)
	} else if mounted {
		return r.errorf("%w", ErrMountBelow)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return r.unlink(parent, name, 0)
	}
	if r.top >= 0 && len(r.trail) > removeDepth {
		return r.moveUp(parent, name)
	}
	fd, err := openDirBeneath(parent, name)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EXDEV):
		return r.errorf("%w", ErrMountBelow)
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
		// name was swapped for a link or a file since the statx: unlink that.
		return r.unlink(parent, name, 0)
	case err != nil:
		return r.errorf("open: %w", err)
	}
	d := os.NewFile(uintptr(fd), name)
	defer d.Close()
	if mnt, err := mountID(fd, ""); err != nil {
		return r.errorf("%w", err)
	} else if mnt != r.mnt {
		return r.errorf("%w", ErrMountBelow)
	}
	if r.top < 0 {
		r.top = fd
		defer func() { r.top = -1 }()
	}
	for pass := 0; ; pass++ {
		moved := r.moved
		if err := r.children(d, fd); err != nil {
			return err
		}
		err := r.unlink(parent, name, unix.AT_REMOVEDIR)
		// Subtrees moved up are progress: only passes without any count.
		if r.moved != moved {
			pass = 0
		}
		if !errors.Is(err, unix.ENOTEMPTY) || pass == removePasses-1 {
			return err
		}
		if _, err := d.Seek(0, io.SeekStart); err != nil {
			return r.errorf("rewind: %w", err)
		}
	}
}

// children removes every entry of the open directory d (descriptor fd),
// removeBatch names at a time; it stops at the first error.
func (r *remover) children(d *os.File, fd int) error {
	for {
		names, err := d.Readdirnames(removeBatch)
		for _, n := range names {
			if err := r.entry(fd, n); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(names) == 0) {
			return nil
		}
		if err != nil {
			return r.errorf("read: %w", err)
		}
	}
}

// moveUp moves the directory name below parent, too deep to descend into,
// to the top of the removal under a fresh name; the top's next pass
// removes it.
func (r *remover) moveUp(parent int, name string) error {
	for {
		r.moved++
		err := unix.Renameat2(parent, name, r.top, ".bosun-remove-"+strconv.Itoa(r.moved), unix.RENAME_NOREPLACE)
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EXDEV), errors.Is(err, unix.EBUSY):
			return r.errorf("%w", ErrMountBelow)
		case !errors.Is(err, unix.EEXIST):
			return r.errorf("move up: %w", err)
		}
	}
}

// unlink unlinks name below parent with flags; a missing name is nil and
// EBUSY (the kernel refusing to unlink a mount point) is ErrMountBelow.
func (r *remover) unlink(parent int, name string, flags int) error {
	err := unix.Unlinkat(parent, name, flags)
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EBUSY):
		return r.errorf("%w", fmt.Errorf("%w: %w", ErrMountBelow, err))
	}
	return r.errorf("%w", err)
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
