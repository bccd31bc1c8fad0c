package podfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bosun-sh/bosun/runtime"
	"github.com/bosun-sh/bosun/runtime/crilog"
)

// maxFileName is the longest file name ext4 allows; the kubelet cuts the
// names of its log links to it.
const maxFileName = 255

// Logs is the container logs below --pod-logs-dir and their links in the
// links directory (/var/log/containers, where log collectors look). Names
// built from a pod's metadata that would leave either directory are
// refused. It holds no state.
type Logs struct {
	// Dir is --pod-logs-dir.
	Dir string
	// LinksDir is where the kubelet's link to each container's log goes;
	// "" makes no links.
	LinksDir string
	Log      *slog.Logger
}

// PodRef names a pod's log directory: <namespace>_<name>_<uid>.
type PodRef struct{ Namespace, Name, UID string }

func (p PodRef) key() string { return p.Namespace + "/" + p.Name }

// PodDir is the log directory of a pod, or "" when the names it is built
// from would put it anywhere but right below Dir.
func (l *Logs) PodDir(p PodRef) string {
	root := filepath.Clean(l.Dir)
	dir := runtime.PodLogDir(root, p.Namespace, p.Name, p.UID)
	if err := Component(filepath.Base(dir)); err != nil || filepath.Dir(dir) != root {
		l.Log.Warn("pod log directory outside of --pod-logs-dir; left alone", "pod", p.key(), "path", dir, "err", err)
		return ""
	}
	return dir
}

// ContainerLog is the log file of a container instance, the kubelet's
// <Dir>/<namespace>_<name>_<uid>/<container>/<restartCount>.log, where the
// runtime writes it.
func (l *Logs) ContainerLog(p PodRef, container string, restartCount uint32) string {
	dir := runtime.PodLogDir(l.Dir, p.Namespace, p.Name, p.UID)
	return filepath.Join(dir, runtime.ContainerLogPath(container, restartCount))
}

// link is the kubelet's link to a container's log in the links directory:
// <pod>_<namespace>_<container>-<id>.log, cut to 255 bytes; "" when links
// are off or the name would leave the directory.
func (l *Logs) link(p PodRef, container, id string) string {
	if l.LinksDir == "" {
		return ""
	}
	name := p.Name + "_" + p.Namespace + "_" + container + "-" + id
	if len(name) > maxFileName-len(".log") {
		name = name[:maxFileName-len(".log")]
	}
	name += ".log"
	if Component(name) != nil {
		return ""
	}
	return filepath.Join(l.LinksDir, name)
}

// Link makes the log link of a container, as the kubelet does when it
// creates one; an existing link is left as it is.
func (l *Logs) Link(p PodRef, container, id, target string) {
	link := l.link(p, container, id)
	if link == "" {
		return
	}
	if err := os.MkdirAll(l.LinksDir, 0o755); err != nil {
		l.Log.Warn("container log links directory", "file", l.LinksDir, "err", err)
		return
	}
	if err := os.Symlink(target, link); err != nil && !errors.Is(err, fs.ErrExist) {
		l.Log.Warn("link container log", "pod", p.key(), "container", container, "file", link, "err", err)
	}
}

// Unlink removes the log link of a container, if there is one.
func (l *Logs) Unlink(p PodRef, container, id string) {
	link := l.link(p, container, id)
	if link == "" {
		return
	}
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.Log.Warn("remove container log link", "pod", p.key(), "container", container, "file", link, "err", err)
	}
}

// LinkedContainer is a container whose log link should exist.
type LinkedContainer struct {
	Pod      PodRef
	Name, ID string
	LogPath  string
}

// SyncLinks makes the missing links of known containers (adopted ones, made
// before the links directory was set) and removes links into Dir whose log
// file is gone, but for those containers.
func (l *Logs) SyncLinks(known []LinkedContainer) {
	if l.LinksDir == "" {
		return
	}
	names := map[string]bool{}
	for _, c := range known {
		if link := l.link(c.Pod, c.Name, c.ID); link != "" {
			names[filepath.Base(link)] = true
			if _, err := os.Lstat(link); errors.Is(err, fs.ErrNotExist) {
				l.Link(c.Pod, c.Name, c.ID, c.LogPath)
			}
		}
	}
	entries, err := os.ReadDir(l.LinksDir)
	if err != nil {
		return
	}
	logs := filepath.Clean(l.Dir) + string(filepath.Separator)
	for _, e := range entries {
		// A known container's log file may not be there yet (the runtime
		// makes it when the container starts).
		if e.Type()&fs.ModeSymlink == 0 || !strings.HasSuffix(e.Name(), ".log") || names[e.Name()] {
			continue
		}
		link := filepath.Join(l.LinksDir, e.Name())
		target, err := os.Readlink(link)
		if err != nil || !strings.HasPrefix(target, logs) {
			continue
		}
		if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
			if err := os.Remove(link); err == nil {
				l.Log.Debug("stale container log link removed", "file", link)
			}
		}
	}
}

// Prune removes the log files (rotated ones included) of a container of a
// pod whose restart counts keep does not hold. The container's log
// directory may be writable by a log-shipping pod: it is opened through no
// link and its entries are unlinked relative to it (a link as itself).
func (l *Logs) Prune(p PodRef, container string, keep map[uint32]bool) {
	l.prune(p, container, func(count uint32) bool { return !keep[count] })
}

// PruneCounts removes the log files (rotated ones included) of a container
// of a pod whose restart counts drop holds, and no other, as Prune does.
func (l *Logs) PruneCounts(p PodRef, container string, drop map[uint32]bool) {
	if len(drop) == 0 {
		return
	}
	l.prune(p, container, func(count uint32) bool { return drop[count] })
}

// prune removes the log files of a container of a pod whose restart count
// doomed reports, as Prune describes.
func (l *Logs) prune(p PodRef, container string, doomed func(count uint32) bool) {
	dir := l.PodDir(p)
	if dir == "" || Component(container) != nil {
		return
	}
	cdir := filepath.Join(dir, container)
	f, err := openLogNoLinks(cdir, 2, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			l.Log.Warn("container log directory", "pod", p.key(), "container", container, "file", cdir, "err", err)
		}
		return
	}
	defer f.Close()
	d := logDir{f: f, fd: int(f.Fd())}
	names, err := d.names(func(name string) bool {
		count, ok := logCount(name)
		return ok && doomed(count)
	})
	if err != nil {
		return
	}
	for _, name := range names {
		if err := d.remove(name); err != nil {
			l.Log.Warn("remove container log", "pod", p.key(), "container", container, "file", name, "err", err)
		}
	}
}

// maxLogNames bounds the names NextRestartCount reads in a container's log
// directory, which a log-shipping pod may fill: a directory bosun keeps
// holds a few (the newest logs, their rotations).
const maxLogNames = 4096

// NextRestartCount is one more than the highest restart count the log
// files of a container of p name (<n>.log, rotated ones included), 0 if
// none, as the kubelet's calcRestartCountByLogDir. The directory is opened
// through no link; at most maxLogNames names are read (an error says the
// rest was not); counts past math.MaxInt32 (the API's restartCount) are
// ignored.
func (l *Logs) NextRestartCount(p PodRef, container string) (uint32, error) {
	dir := l.PodDir(p)
	if dir == "" || Component(container) != nil {
		return 0, nil
	}
	cdir := filepath.Join(dir, container)
	f, err := openLogNoLinks(cdir, 2, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var next uint32
	for read := 0; read < maxLogNames; {
		names, err := f.Readdirnames(64)
		for _, name := range names {
			if n, ok := logCount(name); ok && n < math.MaxInt32 {
				next = max(next, n+1)
			}
		}
		read += len(names)
		if errors.Is(err, io.EOF) {
			return next, nil
		}
		if err != nil {
			return next, fmt.Errorf("read %s: %w", cdir, err)
		}
	}
	return next, fmt.Errorf("read %s: more than %d names; the rest not read", cdir, maxLogNames)
}

// RemovePod removes the log directory of a pod gone for good, through no
// link and across no mount (RemoveBeneath): the directory may be writable
// by a log-shipping pod.
func (l *Logs) RemovePod(p PodRef) {
	if dir := l.PodDir(p); dir != "" {
		if err := RemoveBeneath(filepath.Dir(dir), filepath.Base(dir)); err != nil {
			l.Log.Warn("remove pod log directory", "pod", p.key(), "file", dir, "err", err)
		}
	}
}

// logCount is the restart count of a container log file name:
// <count>.log, or a rotated <count>.log.<suffix>.
func logCount(name string) (uint32, bool) {
	num, rest, ok := strings.Cut(name, ".log")
	if !ok || (rest != "" && !strings.HasPrefix(rest, ".")) {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 32)
	return uint32(n), err == nil
}

// maxTailRead is how much of the end of a container log LogTail reads: the
// kubelet's 80 lines and 2048 bytes of a termination message fit in it,
// with CRI headers, many times over, and it is at most crilog.MaxLine, so
// no line read from it comes in pieces.
const maxTailRead = 64 << 10

// LogTail is the end of a container log (at most 80 lines, 2048 bytes), the
// termination message of FallbackToLogsOnError; "" when it cannot be read.
// path is a log path as ContainerLog makes it. It reads at most the last
// 64 KiB of the file, from the first line that starts in them; a line that
// began before is its end. The pod's log directory may be writable by a
// log-shipping pod: its last three components are resolved without
// following any link, and anything but a regular file reads as no log,
// without blocking.
func LogTail(path string) string {
	f, err := openLogNoLinks(path, 3, unix.O_RDONLY)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	start := max(fi.Size()-maxTailRead, 0)
	buf := make([]byte, fi.Size()-start)
	n, err := f.ReadAt(buf, start)
	if err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return tailOf(buf[:n], start > 0)
}

// tailOf is the last 80 lines and 2048 bytes of the CRI log text buf; cut
// says buf is the end of a longer log, which is read from its first line
// start.
func tailOf(buf []byte, cut bool) string {
	if cut {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return ""
		}
		buf = buf[i+1:]
	}
	r := crilog.NewReader(bytes.NewReader(buf))
	var lines []string
	for {
		e, err := r.Next()
		if err != nil {
			break
		}
		lines = append(lines, string(e.Content))
		if len(lines) > 80 {
			lines = lines[1:]
		}
	}
	out := strings.Join(lines, "\n")
	if len(out) > 2048 {
		out = out[len(out)-2048:]
	}
	return out
}

// openLogNoLinks opens path with flag, resolving its last depth components
// below the directory that holds them (the pod logs dir, for a log path as
// ContainerLog makes it and depth 3) without following any link in them and
// without blocking on a FIFO: a link planted in a log directory is refused
// (ELOOP), never followed.
func openLogNoLinks(path string, depth int, flag int) (*os.File, error) {
	clean := filepath.Clean(path)
	base := clean
	for range depth {
		base = filepath.Dir(base)
	}
	rel, err := filepath.Rel(base, clean)
	if err != nil {
		return nil, err
	}
	dir, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: base, Err: err}
	}
	defer unix.Close(dir)
	open := flag | unix.O_NONBLOCK
	if flag&unix.O_DIRECTORY == 0 {
		// Opening a device runs its driver, whatever is read after: the
		// file is first reached by O_PATH, which opens nothing (openat2
		// takes no other flag with it).
		open = unix.O_PATH
	}
	how := &unix.OpenHow{
		Flags:   uint64(open | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(dir, rel, how)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "openat2", Path: clean, Err: err}
		}
		if open != unix.O_PATH {
			return os.NewFile(uintptr(fd), clean), nil
		}
		return reopenRegular(fd, clean, flag)
	}
}

// reopenRegular opens the file that the O_PATH descriptor fd holds with
// flag, when it is a regular file, and closes fd. Anything else (a device,
// a FIFO, a socket planted in a directory a container may write) is never
// opened: opening a device runs its driver on the host (a watchdog reboots
// the machine when it is closed), and a FIFO may block.
func reopenRegular(fd int, name string, flag int) (*os.File, error) {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
	}
	// The same inode, through the descriptor: no name is resolved again.
	rfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), flag|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(rfd), name), nil
}

// errNotRegular is the error of a file that bosun reads only when it is a
// regular file.
var errNotRegular = errors.New("not a regular file")
