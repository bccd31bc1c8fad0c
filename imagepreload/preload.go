package imagepreload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	stdsync "sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Importer imports one tarball, read from r, into the runtime and returns
// the names of the images it holds; path names the file in errors. It must
// verify what it imported (content present, digests matching) and return an
// error otherwise.
type Importer interface {
	Import(ctx context.Context, path string, r io.Reader) ([]string, error)
}

// Config configures a Preloader.
type Config struct {
	// Dir is the directory of tarballs.
	Dir string
	// StateFile remembers what was imported across restarts (empty: none).
	StateFile string
	// Importer does the import.
	Importer Importer
	// Quiet is how long a tarball must go unmodified before it is imported
	// (default 1s).
	Quiet time.Duration
	// Period is the period of the full rescan (default 1m).
	Period time.Duration
	// Log receives what happens.
	Log *slog.Logger
	// OnImported is called after a tarball was imported, with its images.
	OnImported func(file string, images []string)
	// OnFailed is called once per content of a tarball that fails to import.
	OnFailed func(file string, err error)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// IsTarball reports whether a file name is one the Preloader imports.
func IsTarball(name string) bool {
	return strings.HasSuffix(name, ".tar") && !strings.HasPrefix(name, ".")
}

// record is what is remembered of one tarball.
type record struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modTime"`
	Images  []string  `json:"images,omitempty"`
	Error   string    `json:"error,omitempty"`
}

func (r record) same(fi os.FileInfo) bool {
	return r.Size == fi.Size() && r.ModTime.Equal(fi.ModTime())
}

// Preloader imports the tarballs of a directory.
type Preloader struct {
	cfg Config

	mu        stdsync.Mutex
	seen      map[string]record // by file name (base)
	dirWarned bool
}

// New returns a Preloader, loading its state file if there is one; an
// unreadable state file is logged and means everything is imported again
// (importing the same content again is harmless).
func New(cfg Config) *Preloader {
	if cfg.Quiet <= 0 {
		cfg.Quiet = time.Second
	}
	if cfg.Period <= 0 {
		cfg.Period = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnImported == nil {
		cfg.OnImported = func(string, []string) {}
	}
	if cfg.OnFailed == nil {
		cfg.OnFailed = func(string, error) {}
	}
	p := &Preloader{cfg: cfg, seen: map[string]record{}}
	if cfg.StateFile != "" {
		b, err := os.ReadFile(cfg.StateFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			cfg.Log.Warn("image preload state unreadable; tarballs are imported again", "file", cfg.StateFile, "err", err)
		default:
			if err := json.Unmarshal(b, &p.seen); err != nil {
				cfg.Log.Warn("image preload state unreadable; tarballs are imported again", "file", cfg.StateFile, "err", err)
				p.seen = map[string]record{}
			}
		}
	}
	return p
}

// Scan imports every quiet tarball not imported yet in its current content.
// It returns whether some tarball was left for later because it is still
// being written. Tarballs are imported one after the other; a failing one
// never stops the others.
func (p *Preloader) Scan(ctx context.Context) (pending bool) {
	entries, err := p.readDir()
	if err != nil {
		if !p.dirWarned {
			p.cfg.Log.Warn("image preload directory not read", "dir", p.cfg.Dir, "err", err)
			p.dirWarned = true
		}
		return false
	}
	p.dirWarned = false
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	changed := false
	for _, e := range entries {
		name := e.Name()
		if !IsTarball(name) || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(p.cfg.Dir, name)
		f, fi, openErr := openTarball(path)
		if fi == nil {
			continue // removed meanwhile, or not a regular file any more
		}
		p.mu.Lock()
		r, ok := p.seen[name]
		p.mu.Unlock()
		done, quiet := ok && r.same(fi), p.cfg.Now().Sub(fi.ModTime()) >= p.cfg.Quiet
		if done || !quiet {
			if f != nil {
				f.Close()
			}
			pending = pending || !done
			continue
		}
		var images []string
		err = openErr
		if err == nil {
			images, err = p.cfg.Importer.Import(ctx, path, f)
			f.Close()
		}
		if ctx.Err() != nil {
			return pending
		}
		r = record{Size: fi.Size(), ModTime: fi.ModTime(), Images: images}
		if err != nil {
			r.Error = err.Error()
			p.cfg.Log.Error("image tarball not imported", "file", path, "err", err)
			p.cfg.OnFailed(path, err)
		} else {
			p.cfg.Log.Info("image tarball imported", "file", path, "images", strings.Join(images, ","))
			p.cfg.OnImported(path, images)
		}
		p.mu.Lock()
		p.seen[name] = r
		p.mu.Unlock()
		changed = true
	}
	if changed {
		if err := p.save(); err != nil {
			p.cfg.Log.Warn("image preload state not saved", "file", p.cfg.StateFile, "err", err)
		}
	}
	return pending
}

// readDir reads the directory after checking that only bosun's user can
// write it: whoever can put a tarball there chooses the images pods run.
func (p *Preloader) readDir() ([]os.DirEntry, error) {
	fi, err := os.Stat(p.cfg.Dir)
	if err != nil {
		return nil, err
	}
	if err := checkOwner(fi); err != nil {
		return nil, fmt.Errorf("directory %s: %w", p.cfg.Dir, err)
	}
	return os.ReadDir(p.cfg.Dir)
}

// openTarball opens path without following a link or blocking on a FIFO.
// It returns the file's info whenever path is a regular file, and an error
// when it cannot be read or is writable by another user than bosun's.
func openTarball(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, err
	}
	if err := checkOwner(fi); err != nil {
		f.Close()
		return nil, fi, fmt.Errorf("%s: %w", path, err)
	}
	return f, fi, nil
}

// checkOwner refuses a file or directory owned by another user than
// bosun's, or writable by group or others.
func checkOwner(fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("no owner information")
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("owned by uid %d, not %d (bosun's user)", st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("writable by group or others (mode %v)", fi.Mode().Perm())
	}
	return nil
}

// save writes the state file atomically (a temporary file renamed over it).
func (p *Preloader) save() error {
	if p.cfg.StateFile == "" {
		return nil
	}
	p.mu.Lock()
	b, err := json.Marshal(p.seen)
	p.mu.Unlock()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p.cfg.StateFile), ".image-preload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", tmp.Name(), err)
	}
	return os.Rename(tmp.Name(), p.cfg.StateFile)
}

// Run watches the directory and rescans it after changes have been quiet,
// and every Period, until ctx ends. A directory that cannot be watched is
// still rescanned every Period.
func (p *Preloader) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("image preload: %w", err)
	}
	defer w.Close()
	if err := w.Add(p.cfg.Dir); err != nil {
		p.cfg.Log.Warn("image preload directory not watched; rescanned periodically", "dir", p.cfg.Dir, "err", err)
	}
	period := time.NewTicker(p.cfg.Period)
	defer period.Stop()
	var quiet <-chan time.Time
	if p.Scan(ctx) {
		quiet = time.After(p.cfg.Quiet)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if IsTarball(filepath.Base(ev.Name)) {
				// Every write pushes the scan back: the file must be quiet.
				quiet = time.After(p.cfg.Quiet)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			p.cfg.Log.Warn("image preload watch error", "dir", p.cfg.Dir, "err", err)
		case <-quiet:
			quiet = nil
			if p.Scan(ctx) {
				quiet = time.After(p.cfg.Quiet)
			}
		case <-period.C:
			if p.Scan(ctx) {
				quiet = time.After(p.cfg.Quiet)
			}
		}
	}
}
