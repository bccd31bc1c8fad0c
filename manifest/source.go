package manifest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Snapshot is what the manifest directory asks for at one moment.
type Snapshot struct {
	// Available is false when the directory cannot be read; then Pods holds
	// the last good pods and nothing may be removed because of their absence.
	Available bool
	// Err says why the directory is unavailable.
	Err error
	// Pods holds one pod per good file, and the last good version of files
	// that stopped loading, sorted by file.
	Pods []*StaticPod
	// Errors maps each file that does not load to its error.
	Errors map[string]error
	// Ignored maps each directory entry that is not read as a manifest
	// (IgnoredReason) to why.
	Ignored map[string]string
}

// SourceConfig configures a Source.
type SourceConfig struct {
	// Path is the manifest directory, or a single manifest file (the
	// kubelet's --pod-manifest-path and staticPodPath may name either). A
	// single file is read whatever its name, and watched through its
	// directory, so that renaming a new version over it is seen.
	Path          string
	Node          string
	AllowSymlinks bool
	// Period is the full rescan period (the kubelet's fileCheckFrequency).
	Period time.Duration
	// Settle is how long file events must be quiet before a rescan (new
	// files, renames, removals).
	Settle time.Duration
	// WriteQuiet is how long a manifest written in place must see no more
	// writes before it is read, so a file written in chunks (truncate, then
	// write) is read once, whole. Files renamed into place do not wait.
	WriteQuiet time.Duration
	Log        *slog.Logger
	// Notify is called, without locks held, after a scan changed the snapshot.
	Notify func()
	// AllowedUnsafeSysctls is the kubelet's allowedUnsafeSysctls, checked by
	// CheckSysctlPatterns: a manifest with a sysctl that is neither safe nor
	// allowed there is refused (AdmitSysctls).
	AllowedUnsafeSysctls []string
}

// Source watches a manifest directory (or one manifest file) with fsnotify
// and a periodic rescan.
type Source struct {
	cfg SourceConfig

	mu        sync.Mutex
	kind      pathKind
	scanned   bool
	available bool
	dirErr    error
	files     map[string]*fileState
	// writing holds the time of the last in-place write of each file.
	writing map[string]time.Time
	// ignored is the last scan's ignored entries, each logged once.
	ignored map[string]string
}

// pathKind is what SourceConfig.Path names. It is known from the first scan
// that finds the path and kept from then on, so that deleting a single
// manifest file removes its pod like deleting a file of a directory does.
type pathKind int

const (
	pathUnknown pathKind = iota
	pathDir
	pathFile
)

type fileState struct {
	sum [32]byte
	pod *StaticPod // last good version, nil if the file never loaded
	err error
}

// NewSource returns a Source for cfg; call Run to start watching.
func NewSource(cfg SourceConfig) *Source {
	// Event names are the watched directory joined with an entry's name:
	// a clean path compares equal to them.
	cfg.Path = filepath.Clean(cfg.Path)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Notify == nil {
		cfg.Notify = func() {}
	}
	if cfg.Period <= 0 {
		cfg.Period = 20 * time.Second
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 5 * time.Millisecond
	}
	if cfg.WriteQuiet <= 0 {
		cfg.WriteQuiet = 150 * time.Millisecond
	}
	return &Source{cfg: cfg, files: map[string]*fileState{}, writing: map[string]time.Time{}}
}

// Snapshot returns the current desired set. Before the first scan it is
// unavailable.
func (s *Source) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{Available: s.scanned && s.available, Err: s.dirErr, Errors: map[string]error{}, Ignored: maps.Clone(s.ignored)}
	if !s.scanned {
		snap.Err = errors.New("manifest directory not read yet")
	}
	names := make([]string, 0, len(s.files))
	for name := range s.files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		st := s.files[name]
		if st.pod != nil {
			snap.Pods = append(snap.Pods, st.pod)
		}
		if st.err != nil {
			snap.Errors[name] = st.err
		}
	}
	return snap
}

// Run watches the path until ctx ends. It returns nil on cancellation.
func (s *Source) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("manifest source %s: %w", s.cfg.Path, err)
	}
	defer w.Close()
	watched := "" // what w watches, "" while nothing
	rearm := func() {
		target := s.watchTarget()
		if target == watched {
			return
		}
		if watched != "" {
			_ = w.Remove(watched)
			watched = ""
		}
		if err := w.Add(target); err == nil {
			watched = target
		}
	}
	rearm()
	s.Scan()

	period := time.NewTicker(s.cfg.Period)
	defer period.Stop()
	// While the path is missing, look for it every second.
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	var settle, quiet <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Name == watched && ev.Op&(fsnotify.Remove|fsnotify.Rename) != 0 {
				_ = w.Remove(watched)
				watched = ""
			}
			if !s.concerns(ev.Name) {
				continue
			}
			if ev.Op == fsnotify.Write && s.isManifest(ev.Name) {
				s.markWriting(ev.Name)
				quiet = time.After(s.cfg.WriteQuiet)
				continue
			}
			if settle == nil {
				settle = time.After(s.cfg.Settle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			s.cfg.Log.Warn("manifest watch error", "dir", watched, "err", err)
			settle = time.After(s.cfg.Settle)
		case <-settle:
			settle = nil
			s.Scan()
		case <-quiet:
			quiet = nil
			s.Scan()
		case <-retry.C:
			if watched == "" {
				rearm()
				if watched != "" {
					s.Scan()
				}
			} else if !s.isAvailable() {
				s.Scan()
			}
		case <-period.C:
			rearm()
			s.Scan()
		}
	}
}

// kindOfPath returns what the configured path names, looking once it exists.
func (s *Source) kindOfPath() pathKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kind == pathUnknown {
		if fi, err := os.Stat(s.cfg.Path); err == nil {
			s.kind = pathDir
			if !fi.IsDir() {
				s.kind = pathFile
			}
		}
	}
	return s.kind
}

// watchTarget is the directory to watch: the path, or a single file's
// directory (a file renamed over it is a new inode, which a watch of the
// file itself would miss).
func (s *Source) watchTarget() string {
	if s.kindOfPath() == pathFile {
		return filepath.Dir(s.cfg.Path)
	}
	return s.cfg.Path
}

// concerns reports whether an event's name matters: anything in a manifest
// directory, only the file itself and its directory for a single file.
func (s *Source) concerns(name string) bool {
	if s.kindOfPath() == pathFile {
		return name == s.cfg.Path || name == filepath.Dir(s.cfg.Path)
	}
	return true
}

// isManifest reports whether an event's name is a file read as a manifest.
func (s *Source) isManifest(name string) bool {
	if s.kindOfPath() == pathFile {
		return name == s.cfg.Path
	}
	return IsManifestName(filepath.Base(name))
}

func (s *Source) markWriting(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writing[name] = time.Now()
}

// stillWriting reports whether name was written in place too recently to
// be read; the quiet timer scans it later.
func (s *Source) stillWriting(name string) bool {
	t, ok := s.writing[name]
	if !ok {
		return false
	}
	if time.Since(t) < s.cfg.WriteQuiet {
		return true
	}
	delete(s.writing, name)
	return false
}

func (s *Source) isAvailable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.available
}

// Scan rereads the directory once and calls Notify if anything changed.
func (s *Source) Scan() {
	changed := s.scan()
	if changed {
		s.cfg.Notify()
	}
}

func (s *Source) scan() bool {
	listing, dirErr := s.list()
	s.mu.Lock()
	defer s.mu.Unlock()
	first := !s.scanned
	s.scanned = true
	if dirErr != nil {
		if s.available || first || s.dirErr == nil || s.dirErr.Error() != dirErr.Error() {
			s.cfg.Log.Error("manifest directory unavailable; running pods are kept", "dir", s.cfg.Path, "err", dirErr)
		}
		changed := s.available || first
		s.available, s.dirErr, s.ignored = false, dirErr, nil
		return changed
	}
	changed := !s.available || first
	if !s.available && !first {
		s.cfg.Log.Info("manifest directory available again", "dir", s.cfg.Path)
	}
	s.available, s.dirErr = true, nil
	for path, why := range listing.Ignored {
		if s.ignored[path] != why {
			s.cfg.Log.Debug("not read as a manifest", "file", path, "reason", why)
		}
	}
	if !maps.Equal(s.ignored, listing.Ignored) {
		s.ignored = listing.Ignored
		changed = true
	}
	found := map[string]bool{}
	for _, name := range listing.Files {
		found[name] = true
	}
	for name := range s.files {
		if !found[name] {
			delete(s.files, name)
			changed = true
		}
	}
	for _, name := range listing.Files {
		if !s.stillWriting(name) && s.load(name) {
			changed = true
		}
	}
	return changed
}

// list returns the manifest files to read and the entries ignored. An error
// means the directory itself cannot be used. A single file that is missing
// is no error: it was deleted, and its pod goes.
func (s *Source) list() (Listing, error) {
	if s.kindOfPath() != pathFile {
		return ListDir(s.cfg.Path)
	}
	if err := CheckDir(filepath.Dir(s.cfg.Path)); err != nil {
		return Listing{}, err
	}
	if _, err := os.Lstat(s.cfg.Path); errors.Is(err, fs.ErrNotExist) {
		return Listing{}, nil
	} else if err != nil {
		return Listing{}, fmt.Errorf("manifest %s: %w", s.cfg.Path, err)
	}
	return Listing{Files: []string{s.cfg.Path}}, nil
}

// load rereads one file and reports whether its state changed. An error is
// logged once per content.
func (s *Source) load(name string) bool {
	data, err := ReadFile(name, s.cfg.AllowSymlinks)
	st := s.files[name]
	if st == nil {
		st = &fileState{}
		s.files[name] = st
	}
	var sum [32]byte
	if err == nil {
		sum = sha256.Sum256(data)
		if sum == st.sum && (st.pod != nil || st.err != nil) {
			return false
		}
	} else if st.err != nil && st.err.Error() == err.Error() {
		return false
	}
	st.sum = sum
	if err == nil {
		var pod *StaticPod
		pod, err = Load(name, data, s.cfg.Node)
		if err == nil {
			err = AdmitSysctls(pod, s.cfg.AllowedUnsafeSysctls)
		}
		if err == nil {
			if st.err != nil {
				s.cfg.Log.Info("manifest fixed", "file", name)
			}
			st.pod, st.err = pod, nil
			return true
		}
	}
	st.err = err
	if st.pod != nil {
		s.cfg.Log.Error("manifest rejected; the pod keeps running from its last good version", "file", name, "pod", st.pod.Key(), "err", err)
	} else {
		s.cfg.Log.Error("manifest rejected", "file", name, "err", err)
	}
	return true
}

// ReadFile reads a manifest through one open file: it opens name once
// (O_NOFOLLOW unless allowSymlinks, O_NONBLOCK so a FIFO or device never
// blocks), checks the opened file itself (a regular file of at most MaxSize
// bytes, owned by root or by bosun's own user, not writable by group or
// others) and reads from it, so nothing can be swapped between the checks
// and the read. With allowSymlinks, a file that resolves outside its own
// directory also needs every directory from the one it is in up to / to be
// owned by root (or bosun's user) and not writable by group or others,
// sticky ones such as /tmp included. Its error is a *FileError.
func ReadFile(name string, allowSymlinks bool) ([]byte, error) {
	fail := func(format string, args ...any) error {
		return &FileError{File: name, Problems: []*FieldError{{Msg: fmt.Sprintf(format, args...)}}}
	}
	flags := os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY
	if !allowSymlinks {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(name, flags, 0)
	if err != nil {
		return nil, fail("%s", openProblem(name, allowSymlinks, err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fail("%v", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fail("not a regular file (%s); refused", fi.Mode().Type())
	}
	if fi.Size() > MaxSize {
		return nil, fail("%d bytes is larger than the limit of %d; refused", fi.Size(), MaxSize)
	}
	if err := checkOwner(fi); err != nil {
		return nil, fail("%v", err)
	}
	if allowSymlinks {
		if err := checkTargetDirs(f, name); err != nil {
			return nil, fail("%v", err)
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fail("%v", err)
	}
	if len(data) > MaxSize {
		return nil, fail("larger than the limit of %d bytes; refused", MaxSize)
	}
	return data, nil
}

// openProblem says why name could not be opened. The Lstat here only words
// the message; the decision was the open's.
func openProblem(name string, allowSymlinks bool, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is in the FileError already
	}
	fi, lerr := os.Lstat(name)
	switch {
	case lerr != nil:
		return err.Error()
	case fi.Mode()&fs.ModeSymlink != 0 && !allowSymlinks:
		return "is a symbolic link; refused without --allow-symlinks"
	case fi.Mode()&fs.ModeSymlink != 0:
		target, _ := os.Readlink(name)
		return fmt.Sprintf("symbolic link to %s: %v", target, err)
	case !fi.Mode().IsRegular():
		return fmt.Sprintf("not a regular file (%s); refused", fi.Mode().Type())
	}
	return err.Error()
}

// checkTargetDirs checks, for an opened manifest that resolved outside the
// directory named by name (through a symbolic link), every directory from
// the one the file is in up to /. The file's resolved path comes from the
// open file itself (/proc/self/fd), not from resolving name again.
func checkTargetDirs(f *os.File, name string) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var target string
	var rerr error
	if err := conn.Control(func(fd uintptr) { target, rerr = os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)) }); err != nil {
		return err
	}
	if rerr != nil {
		return fmt.Errorf("resolve the opened file: %w", rerr)
	}
	dir := filepath.Dir(target)
	if own, err := filepath.EvalSymlinks(filepath.Dir(name)); err == nil {
		if own, err = filepath.Abs(own); err == nil && own == dir {
			return nil // in the directory the caller checked
		}
	}
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Lstat(d)
		if err != nil {
			return fmt.Errorf("link target %s: %w", target, err)
		}
		if err := checkOwner(fi); err != nil {
			return fmt.Errorf("link target %s: directory %s: %w", target, d, err)
		}
		if d == "/" {
			return nil
		}
	}
}

// CheckDir checks that dir is a directory that only root (or bosun's user)
// can change.
func CheckDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("manifest directory %s: %w", dir, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("manifest directory %s: not a directory", dir)
	}
	if err := checkOwner(fi); err != nil {
		return fmt.Errorf("manifest directory %s: %w", dir, err)
	}
	return nil
}

// checkOwner refuses files and directories that someone other than root (or
// bosun's user) could change: CIS asks root:root and 0600 for manifests.
func checkOwner(fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	mode := st.Mode & 0o7777 // with the sticky bit: 1777 for /tmp
	if mode&0o022 != 0 {
		return fmt.Errorf("mode %04o is writable by group or others (owner uid %d); refused", mode, st.Uid)
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("owned by uid %d, not root or bosun's uid %d (mode %04o); refused", st.Uid, os.Geteuid(), mode)
	}
	return nil
}
