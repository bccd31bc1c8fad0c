package podlog

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// pollInterval is how often a Follower looks at the file when inotify does
// not serve (no watch could be made, or the directory was removed).
const pollInterval = 250 * time.Millisecond

// Follower reads a container's log file and, at its end, waits for more,
// until its context ends (then Read returns io.EOF). It follows the file
// across rotations as the kubelet and bosun make them: the file is renamed
// to <log>.<YYYYMMDD-hhmmss> (and later gzipped to <...>.gz), the runtime
// goes on writing to it until it reopens the log, which creates a new file
// at the path. The Follower reads the old file to its end before it opens
// the new one, so no line is lost or read twice; a file truncated in place
// is read again from its start. It waits on inotify (fsnotify on the log's
// directory), and polls only where no watch can be made.
type Follower struct {
	ctx     context.Context
	path    string
	f       *os.File
	wake    chan struct{}
	polling atomic.Bool
	watcher *fsnotify.Watcher
	dir     os.FileInfo   // the watched directory
	poll    time.Duration // pollInterval but in tests
}

// Follow returns a Follower of path that reads on from f, which is path
// opened; the Follower owns f from now on.
func Follow(ctx context.Context, f *os.File, path string) *Follower {
	r := newFollower(ctx, f, path)
	w, err := fsnotify.NewWatcher()
	if err == nil {
		if err = w.Add(filepath.Dir(path)); err != nil {
			w.Close()
		}
	}
	if err == nil {
		// After the watch: a directory replaced since is seen as such.
		r.dir, err = os.Stat(filepath.Dir(path))
		if err != nil {
			w.Close()
		}
	}
	if err != nil {
		r.polling.Store(true)
		return r
	}
	r.watcher = w
	go r.watch()
	return r
}

// followPolling is a Follower that never uses inotify and polls often,
// for tests.
func followPolling(ctx context.Context, f *os.File, path string) *Follower {
	r := newFollower(ctx, f, path)
	r.polling.Store(true)
	r.poll = 5 * time.Millisecond
	return r
}

func newFollower(ctx context.Context, f *os.File, path string) *Follower {
	return &Follower{ctx: ctx, path: path, f: f, wake: make(chan struct{}, 1), poll: pollInterval}
}

// watch wakes the reader on every change in the log's directory (the file
// written, renamed, created, removed) and on every error (an overflow lost
// events: look at the file again). When the watcher closes, the reader
// polls.
func (r *Follower) watch() {
	for ok := true; ok; {
		select {
		case _, ok = <-r.watcher.Events:
		case _, ok = <-r.watcher.Errors:
		}
		if !ok {
			r.polling.Store(true)
		}
		r.signal()
	}
}

func (r *Follower) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Read reads what the file has and waits for more at its end.
func (r *Follower) Read(b []byte) (int, error) {
	for {
		n, err := r.f.Read(b)
		if n > 0 || !errors.Is(err, io.EOF) {
			return n, err
		}
		switched, err := r.reopen()
		if err != nil {
			return 0, err
		}
		if switched {
			continue
		}
		if !r.polling.Load() && !r.dirWatched() {
			r.polling.Store(true)
		}
		var tick <-chan time.Time
		if r.polling.Load() {
			tick = time.After(r.poll)
		}
		select {
		case <-r.ctx.Done():
			return 0, io.EOF
		case <-r.wake:
		case <-tick:
		}
	}
}

// dirWatched reports whether the watched directory is still the one at
// the log's path. When it was removed (the pod removed, maybe made again
// with the same UID), its watch tells nothing more: the Follower polls.
func (r *Follower) dirWatched() bool {
	fi, err := os.Stat(filepath.Dir(r.path))
	return err == nil && os.SameFile(fi, r.dir)
}

// reopen is called at the end of the file. When another file is at the
// path (the log was rotated), it switches to it once the old file is read
// to its end and the new one has data: the runtime writes to the old file
// until it has reopened the log, even after the new file was made, and to
// the new one only after that. A file truncated in place is read again
// from its start. It reports whether there is something to read now.
func (r *Follower) reopen() (bool, error) {
	onDisk, err := os.Stat(r.path)
	if err != nil {
		return false, nil // rotated away, the new file not made yet
	}
	cur, err := r.f.Stat()
	if err != nil {
		return false, err
	}
	pos, err := r.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return false, err
	}
	if os.SameFile(cur, onDisk) {
		if cur.Size() >= pos {
			return false, nil
		}
		_, err = r.f.Seek(0, io.SeekStart)
		return err == nil, err
	}
	// The new file was seen with data before the old one's size was taken:
	// that size is final.
	if cur.Size() > pos || onDisk.Size() == 0 {
		return cur.Size() > pos, nil
	}
	nf, err := os.Open(r.path)
	if err != nil {
		return false, nil // gone again: wait for the next one
	}
	if fi, err := nf.Stat(); err != nil || !os.SameFile(fi, onDisk) {
		nf.Close() // rotated again meanwhile: look again
		return true, nil
	}
	r.f.Close()
	r.f = nf
	return true, nil
}

// Close stops watching and closes the file.
func (r *Follower) Close() error {
	if r.watcher != nil {
		r.watcher.Close()
	}
	return r.f.Close()
}
