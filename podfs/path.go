package podfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Limits of Linux path names: NAME_MAX and PATH_MAX less its NUL.
const (
	maxName = 255
	maxPath = 4095
)

// ErrOutside is the error of a path that leads outside the directory it
// must stay in, through '..' or through a symbolic link.
var ErrOutside = errors.New("leads outside its base directory")

// Component checks that name (a UID, a volume or container name) is usable
// as exactly one path component: not empty, not "." or "..", no '/', no NUL,
// at most 255 bytes.
func Component(name string) error {
	switch {
	case name == "" || name == ".":
		return fmt.Errorf("path component %q: empty", name)
	case name == "..":
		return fmt.Errorf("path component %q: may not be '..'", name)
	case strings.ContainsRune(name, '/'):
		return fmt.Errorf("path component %q: may not contain '/'", name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("path component %q: may not contain NUL", name)
	case len(name) > maxName:
		return fmt.Errorf("path component %.40q...: longer than %d bytes", name, maxName)
	}
	return nil
}

// Join joins the relative paths rel below base and refuses, as text, any
// that could leave it: an absolute path, a '..' component, NUL, a component
// over 255 bytes, a result over 4095 bytes, or nothing at all. It resolves no
// link: what exists below base is opened with MkdirAll or the pod's root.
func Join(base string, rel ...string) (string, error) {
	parts := []string{base}
	for _, r := range rel {
		if err := checkRel(r); err != nil {
			return "", err
		}
		parts = append(parts, r)
	}
	p := filepath.Join(parts...)
	if len(p) > maxPath {
		return "", fmt.Errorf("path %.40q...: longer than %d bytes", p, maxPath)
	}
	if p == filepath.Clean(base) {
		return "", fmt.Errorf("path %q below %s: empty", strings.Join(rel, "/"), base)
	}
	return p, nil
}

// checkRel is Join's check of one relative path.
func checkRel(rel string) error {
	switch {
	case strings.ContainsRune(rel, 0):
		return fmt.Errorf("path %q: may not contain NUL", rel)
	case filepath.IsAbs(rel):
		return fmt.Errorf("path %q: may not be absolute", rel)
	case len(rel) > maxPath:
		return fmt.Errorf("path %.40q...: longer than %d bytes", rel, maxPath)
	}
	for _, part := range strings.Split(rel, "/") {
		if part == ".." {
			return fmt.Errorf("path %q: may not contain '..'", rel)
		}
		if len(part) > maxName {
			return fmt.Errorf("path %.40q...: a component is longer than %d bytes", rel, maxName)
		}
	}
	if filepath.Clean(rel) == "." {
		return fmt.Errorf("path %q: empty", rel)
	}
	return nil
}

// MkdirAll creates rel below base with perm, as Join allows it, following
// links only while they stay below base; a link that leads out (absolute,
// or up through '..') is ErrOutside, and nothing is created outside.
func MkdirAll(base, rel string, perm os.FileMode) error {
	if _, err := Join(base, rel); err != nil {
		return err
	}
	dir, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", base, err)
	}
	defer unix.Close(dir)
	fd, err := resolveBeneath(dir, rel, true, uint32(perm.Perm()))
	if err != nil {
		return fmt.Errorf("%s below %s: %w", rel, base, err)
	}
	return unix.Close(fd)
}

// MkdirIn creates dir, which must be exactly one component below base (a
// pod's log directory below --pod-logs-dir), and base if it is missing.
func MkdirIn(base, dir string, perm os.FileMode) error {
	name, ok := strings.CutPrefix(filepath.Clean(dir), filepath.Clean(base)+"/")
	if !ok {
		return fmt.Errorf("directory %s: not below %s", dir, base)
	}
	if err := Component(name); err != nil {
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	return MkdirAll(base, name, perm)
}

// resolveBeneath opens rel below the directory dirfd as an O_PATH
// descriptor, resolving every component with openat2(RESOLVE_BENEATH): links
// are followed only while they stay below dirfd; one that leads out, or an
// absolute one, is ErrOutside. With create, missing directories are made
// with perm, each with mkdirat in its resolved parent.
func resolveBeneath(dirfd int, rel string, create bool, perm uint32) (int, error) {
	parts := strings.Split(filepath.Clean(rel), "/")
	parent := -1
	defer func() {
		if parent >= 0 {
			unix.Close(parent)
		}
	}()
	for i, part := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		fd, err := openat2(dirfd, prefix)
		if errors.Is(err, unix.ENOENT) && create {
			at := dirfd
			if parent >= 0 {
				at = parent
			}
			if err := unix.Mkdirat(at, part, perm); err != nil && !errors.Is(err, unix.EEXIST) {
				return -1, fmt.Errorf("mkdir %s: %w", prefix, err)
			}
			fd, err = openat2(dirfd, prefix)
		}
		if err != nil {
			return -1, fmt.Errorf("%s: %w", prefix, err)
		}
		if parent >= 0 {
			unix.Close(parent)
		}
		parent = fd
	}
	fd := parent
	parent = -1
	return fd, nil
}

// openat2 opens name below dirfd with O_PATH and RESOLVE_BENEATH.
func openat2(dirfd int, name string) (int, error) {
	for {
		fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		})
		switch {
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue
		case errors.Is(err, unix.EXDEV):
			return -1, ErrOutside
		case errors.Is(err, unix.ENOSYS):
			return -1, fmt.Errorf("openat2 is not available (Linux 5.6 or newer is needed): %w", err)
		}
		return fd, err
	}
}
