package podlog

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/runtime/crilog"
)

// guard bounds a wait for a line that should come; it is no timing assertion.
const guard = 20 * time.Second

type rotationTest struct {
	t     *testing.T
	path  string
	lines chan string
	w     *os.File // the runtime's open log file
	n     int      // rotations so far
}

func (rt *rotationTest) write(content string) {
	rt.t.Helper()
	if _, err := rt.w.WriteString("2026-11-27T12:00:00Z stdout F " + content + "\n"); err != nil {
		rt.t.Fatal(err)
	}
}

func (rt *rotationTest) expect(want ...string) {
	rt.t.Helper()
	for _, w := range want {
		select {
		case got, ok := <-rt.lines:
			if !ok || got != w {
				rt.t.Fatalf("read %q (open %t), want %q", got, ok, w)
			}
		case <-time.After(guard):
			rt.t.Fatalf("no line %q after %s", w, guard)
		}
	}
}

// rename moves the log away as the kubelet and bosun rotate it; the
// runtime keeps writing to it until reopen.
func (rt *rotationTest) rename() string {
	rt.t.Helper()
	rt.n++
	rotated := rt.path + ".20261127-12000" + string(rune('0'+rt.n))
	if err := os.Rename(rt.path, rotated); err != nil {
		rt.t.Fatal(err)
	}
	return rotated
}

// reopen is the runtime's ReopenContainerLog: a new file at the path.
func (rt *rotationTest) reopen() {
	rt.t.Helper()
	rt.w.Close()
	w, err := os.OpenFile(rt.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o640)
	if err != nil {
		rt.t.Fatal(err)
	}
	rt.w = w
}

// gzip compresses a rotated file and removes it, as the next rotation does.
func (rt *rotationTest) gzip(rotated string) {
	rt.t.Helper()
	b, err := os.ReadFile(rotated)
	if err != nil {
		rt.t.Fatal(err)
	}
	out, err := os.Create(rotated + ".gz")
	if err != nil {
		rt.t.Fatal(err)
	}
	zw := gzip.NewWriter(out)
	if _, err := zw.Write(b); err != nil {
		rt.t.Fatal(err)
	}
	if err := errors.Join(zw.Close(), out.Close(), os.Remove(rotated)); err != nil {
		rt.t.Fatal(err)
	}
}

// testFollowAcrossRotation follows a log through rotations with follow and
// checks that every line comes once, in order.
func testFollowAcrossRotation(t *testing.T, follow func(context.Context, *os.File, string) *Follower, inotify bool) {
	dir := t.TempDir()
	rt := &rotationTest{t: t, path: filepath.Join(dir, "0.log"), lines: make(chan string, 100)}
	var err error
	if rt.w, err = os.OpenFile(rt.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.w.Close() })
	rt.write("1")
	f, err := os.Open(rt.path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fr := follow(ctx, f, rt.path)
	if inotify && (fr.watcher == nil || fr.polling.Load()) {
		t.Fatal("the follower does not use inotify")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(rt.lines)
		r := crilog.NewReader(fr)
		for {
			e, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			rt.lines <- string(e.Content)
		}
	}()
	rt.expect("1")

	// Renamed: the runtime writes to the old file, then reopens.
	first := rt.rename()
	rt.write("2")
	rt.expect("2")
	rt.reopen()
	rt.write("3")
	rt.expect("3")

	// The next rotation gzips the previous one.
	rt.rename()
	rt.gzip(first)
	rt.write("4")
	rt.reopen()
	rt.write("5")
	rt.expect("4", "5")

	// A rotation while the follower has not read the old file to its end.
	rt.write("6")
	rt.rename()
	rt.write("7")
	rt.reopen()
	rt.write("8 with a long tail so that the file shrinks when truncated")
	rt.expect("6", "7", "8 with a long tail so that the file shrinks when truncated")

	// Truncated in place: read again from the start.
	if err := rt.w.Truncate(0); err != nil {
		t.Fatal(err)
	}
	rt.write("9")
	rt.expect("9")

	cancel()
	select {
	case <-done:
	case <-time.After(guard):
		t.Fatal("the follower did not end with its context")
	}
	if err := fr.Close(); err != nil {
		t.Error(err)
	}
}

func TestFollowReadsTheOldFileUntilTheRuntimeWritesTheNewOne(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	old, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fr := newFollower(context.Background(), f, path)
	defer fr.Close()
	read := func(want string) {
		t.Helper()
		if switched, err := fr.reopen(); err != nil || !switched {
			t.Fatalf("reopen: %t %v, want something to read", switched, err)
		}
		b := make([]byte, 100)
		if n, err := fr.f.Read(b); err != nil || string(b[:n]) != want {
			t.Fatalf("read %q %v, want %q", b[:n], err, want)
		}
	}
	// Rotated: renamed, and the runtime has made the new file but not yet
	// switched to it.
	if err := os.Rename(path, path+".20261127-120000"); err != nil {
		t.Fatal(err)
	}
	cur, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if switched, err := fr.reopen(); err != nil || switched {
		t.Fatalf("reopen with the new file empty: %t %v, want to stay on the old file", switched, err)
	}
	if _, err := old.WriteString("late\n"); err != nil {
		t.Fatal(err)
	}
	read("late\n")
	if _, err := cur.WriteString("new\n"); err != nil {
		t.Fatal(err)
	}
	read("new\n")
}

func TestFollowAcrossRotationWithInotify(t *testing.T) {
	testFollowAcrossRotation(t, Follow, true)
}

func TestFollowAcrossRotationPolling(t *testing.T) {
	testFollowAcrossRotation(t, followPolling, false)
}

func TestFollowPollsOnceTheDirectoryIsRemovedAndMadeAgain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "main")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "0.log")
	if err := os.WriteFile(path, []byte("2026-11-27T12:00:00Z stdout F before\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fr := Follow(ctx, f, path)
	defer fr.Close()
	r := crilog.NewReader(fr)
	if e, err := r.Next(); err != nil || string(e.Content) != "before" {
		t.Fatalf("%q %v", e.Content, err)
	}
	// The pod is removed, and made again with the same UID: the same paths,
	// in a new directory that the old watch does not see.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		e, err := r.Next()
		got <- fmt.Sprintf("%s %v", e.Content, err)
	}()
	deadline := time.Now().Add(guard)
	for !fr.polling.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the follower did not fall back to polling")
		}
		time.Sleep(time.Millisecond)
	}
	if err := os.WriteFile(path, []byte("2026-11-27T12:00:00Z stdout F after\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	select {
	case line := <-got:
		if line != "after <nil>" {
			t.Errorf("read %q, want after", line)
		}
	case <-time.After(guard):
		t.Fatal("the line in the new directory did not come")
	}
}
