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
// written, renamed, created, removed).
func (r *Follower) watch() {
	for {
		select {
		case _, ok := <-r.watcher.Events:
			if !ok {
				r.polling.Store(true)
				r.signal()
				return
			}
			r.signal()
		case _, ok := <-r.watcher.Errors:
			// An overflow lost events: look at the file again.
			if !ok {
				r.polling.Store(true)
				r.signal()
				return
			}
			r.signal()
		}
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

// reopen is called at the end of the file: it opens the file now at the path
// when that is another one (the old one was rotated away and has been read
// to its end), or goes back to the start of a file truncated in place.
func (r *Follower) reopen() (bool, error) {
	onDisk, err := os.Stat(r.path)
	if err != nil {
		return false, nil // rotated away, the new file not made yet
	}
	cur, err := r.f.Stat()
	if err != nil {
		return false, err
	}
	if os.SameFile(cur, onDisk) {
		pos, err := r.f.Seek(0, io.SeekCurrent)
		if err != nil || cur.Size() >= pos {
			return false, err
		}
		_, err = r.f.Seek(0, io.SeekStart)
		return err == nil, err
	}
	// Writes to the old file may have landed since the last read.
	if n, _ := r.f.Seek(0, io.SeekCurrent); cur.Size() > n {
		return true, nil
	}
	nf, err := os.Open(r.path)
	if err != nil {
		return false, nil // gone again: wait for the next one
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
