package podfs

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The kubelet's names of rotated logs: <log>.<timestamp>, gzipped to
// <log>.<timestamp>.gz (all but the newest), through <...>.tmp.
const (
	rotatedTimeFormat = "20060102-150405"
	compressedSuffix  = ".gz"
	tmpSuffix         = ".tmp"
)

// RotateLog rotates a container log as the kubelet does: it makes room for
// one more rotated file (removing the oldest ones, then compressing the
// rest), renames log to <log>.<now> and calls reopen, which has the runtime
// reopen the log; maxFiles files are kept in all, the current one included.
// When reopen fails, the rename is undone. A log rotated less than a second
// ago is left for next time. log is a log path as ContainerLog makes it;
// its container directory may be writable by a log-shipping pod, so it is
// opened once below the pod logs dir through no link, and every name in it
// is used relative to it: a link is removed or renamed as a name, never
// followed, and only regular files are compressed.
func RotateLog(log string, maxFiles int, now time.Time, reopen func() error) error {
	dir, err := openLogNoLinks(filepath.Dir(log), 2, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", log, err)
	}
	defer dir.Close()
	d := logDir{f: dir, fd: int(dir.Fd())}
	name := filepath.Base(log)
	rotated, err := d.rotatedLogs(name, true)
	if err != nil {
		return err
	}
	// After the rotation there are the current file, the newest rotated
	// one (not compressed) and at most LogMaxFiles-2 compressed ones.
	keep := max(maxFiles-2, 0)
	for len(rotated) > keep {
		if err := d.remove(rotated[0]); err != nil {
			return err
		}
		rotated = rotated[1:]
	}
	for _, r := range rotated {
		if !strings.HasSuffix(r, compressedSuffix) {
			if err := d.compress(r); err != nil {
				return err
			}
		}
	}
	target := name + "." + now.Format(rotatedTimeFormat)
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, target, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return nil // rotated less than a second ago: next time
	}
	if err := d.rename(name, target); err != nil {
		return err
	}
	if err := reopen(); err != nil {
		// The runtime still writes to the renamed file: put it back.
		if rerr := d.rename(target, name); rerr != nil {
			return fmt.Errorf("reopen: %w; rename back: %w", err, rerr)
		}
		return fmt.Errorf("reopen: %w", err)
	}
	return nil
}

// logDir is an open container log directory: every name is used relative
// to it, and none is followed when it is a link.
type logDir struct {
	f  *os.File
	fd int
}

// path is the host path of name, for errors.
func (d logDir) path(name string) string { return filepath.Join(d.f.Name(), name) }

// remove unlinks name (a link itself, never its target); a name already
// gone is no error.
func (d logDir) remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &fs.PathError{Op: "unlinkat", Path: d.path(name), Err: err}
	}
	return nil
}

// rename renames from to to in the directory, replacing whatever to is.
func (d logDir) rename(from, to string) error {
	if err := unix.Renameat(d.fd, from, d.fd, to); err != nil {
		return &os.LinkError{Op: "renameat", Old: d.path(from), New: d.path(to), Err: err}
	}
	return nil
}

// rotatedLogs lists the rotated files of the log name, oldest first. With
// cleanup, what a failed compression left is removed first: temporary
// files, and files whose compressed copy exists.
func (d logDir) rotatedLogs(name string, cleanup bool) ([]string, error) {
	all, err := d.names(func(f string) bool { return strings.HasPrefix(f, name+".") })
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, f := range all {
		have[f] = true
	}
	var out []string
	for _, f := range all {
		if strings.HasSuffix(f, tmpSuffix) || have[f+compressedSuffix] {
			if cleanup {
				if err := d.remove(f); err != nil {
					return nil, err
				}
			}
			continue
		}
		out = append(out, f)
	}
	sort.Strings(out)
	return out, nil
}

// names lists the entries of the directory that keep accepts, reading
// them a batch at a time: the directory may be writable by a log-shipping
// pod, and only the names bosun acts on are held.
func (d logDir) names(keep func(string) bool) ([]string, error) {
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	var out []string
	for {
		batch, err := d.f.Readdirnames(256)
		for _, n := range batch {
			if keep(n) {
				out = append(out, n)
			}
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", d.f.Name(), err)
		}
	}
}

// compress gzips name to name.gz (through name.gz.tmp, made anew) and
// removes name. It reads what name held when it was opened (its size then),
// and only a regular file with no other hard link: a link, a FIFO, a device
// or a second name of another file planted as name is removed
// uncompressed, its content never read.
func (d logDir) compress(name string) (retErr error) {
	pfd, err := unix.Openat(d.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "openat", Path: d.path(name), Err: err}
	}
	in, err := reopenRegular(pfd, d.path(name), unix.O_RDONLY)
	if errors.Is(err, errNotRegular) {
		return d.remove(name) // a link, FIFO or device: never opened
	}
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !fi.Mode().IsRegular() || !ok || st.Nlink != 1 {
		return d.remove(name)
	}
	tmp := name + compressedSuffix + tmpSuffix
	ofd, err := unix.Openat(d.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return &fs.PathError{Op: "openat", Path: d.path(tmp), Err: err}
	}
	out := os.NewFile(uintptr(ofd), d.path(tmp))
	defer func() {
		if retErr != nil {
			out.Close()
			_ = d.remove(tmp)
		}
	}()
	w := gzip.NewWriter(out)
	if _, err := io.Copy(w, io.LimitReader(in, fi.Size())); err != nil {
		return fmt.Errorf("compress %s: %w", d.path(name), err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", d.path(name), err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", d.path(name), err)
	}
	if err := d.rename(tmp, name+compressedSuffix); err != nil {
		return err
	}
	return d.remove(name)
}
