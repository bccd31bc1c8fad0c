package imagepreload

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

type fakeImporter struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]error
}

func (f *fakeImporter) Import(_ context.Context, path string, r io.Reader) ([]string, error) {
	if _, err := io.ReadAll(r); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, filepath.Base(path))
	if err := f.fail[filepath.Base(path)]; err != nil {
		return nil, err
	}
	return []string{"example.com/" + filepath.Base(path)}, nil
}

func (f *fakeImporter) took() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

type rig struct {
	dir      string
	now      time.Time
	imp      *fakeImporter
	imported []string
	failed   []string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	return &rig{dir: t.TempDir(), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), imp: &fakeImporter{fail: map[string]error{}}}
}

func (r *rig) preloader(state string) *Preloader {
	return New(Config{
		Dir: r.dir, StateFile: state, Importer: r.imp, Quiet: time.Second,
		Now:        func() time.Time { return r.now },
		OnImported: func(file string, _ []string) { r.imported = append(r.imported, filepath.Base(file)) },
		OnFailed:   func(file string, _ error) { r.failed = append(r.failed, filepath.Base(file)) },
	})
}

// write writes name with content and sets its modification time to at.
func (r *rig) write(t *testing.T, name, content string, at time.Time) {
	t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}

func TestScanWaitsUntilQuiet(t *testing.T) {
	r := newRig(t)
	p := r.preloader("")
	r.write(t, "a.tar", "half", r.now.Add(-500*time.Millisecond))
	if !p.Scan(context.Background()) {
		t.Error("Scan of a file written 500ms ago did not report it pending")
	}
	if got := r.imp.took(); len(got) != 0 {
		t.Fatalf("a file still being written was imported: %v", got)
	}
	// The second half arrives; the file is then quiet for the whole Quiet.
	r.write(t, "a.tar", "half and the rest", r.now)
	r.now = r.now.Add(time.Second)
	if p.Scan(context.Background()) {
		t.Error("Scan reported a quiet file pending")
	}
	if got := r.imp.took(); !reflect.DeepEqual(got, []string{"a.tar"}) {
		t.Fatalf("imported %v, want [a.tar]", got)
	}
	if !reflect.DeepEqual(r.imported, []string{"a.tar"}) {
		t.Errorf("OnImported got %v", r.imported)
	}
}

func TestScanOnlyTarballs(t *testing.T) {
	r := newRig(t)
	old := r.now.Add(-time.Hour)
	r.write(t, "a.tar", "x", old)
	r.write(t, "b.oci.tar", "x", old)
	r.write(t, "README", "x", old)
	r.write(t, ".c.tar", "x", old) // a temporary file of a copy
	r.write(t, "d.tar.gz", "x", old)
	if err := os.Symlink(filepath.Join(r.dir, "a.tar"), filepath.Join(r.dir, "e.tar")); err != nil {
		t.Fatal(err)
	}
	r.preloader("").Scan(context.Background())
	if got := r.imp.took(); !reflect.DeepEqual(got, []string{"a.tar", "b.oci.tar"}) {
		t.Fatalf("imported %v, want [a.tar b.oci.tar]", got)
	}
}

func TestFailureReportedOncePerContentAndDoesNotBlock(t *testing.T) {
	r := newRig(t)
	old := r.now.Add(-time.Hour)
	r.write(t, "a.tar", "truncated", old)
	r.write(t, "b.tar", "good", old)
	r.imp.fail["a.tar"] = errors.New("unexpected EOF")
	p := r.preloader("")
	p.Scan(context.Background())
	p.Scan(context.Background())
	if !reflect.DeepEqual(r.failed, []string{"a.tar"}) || !reflect.DeepEqual(r.imported, []string{"b.tar"}) {
		t.Fatalf("failed %v imported %v, want [a.tar] and [b.tar]", r.failed, r.imported)
	}
	// A new content of the failed file is tried again.
	delete(r.imp.fail, "a.tar")
	r.write(t, "a.tar", "complete now", old.Add(time.Minute))
	p.Scan(context.Background())
	if !reflect.DeepEqual(r.imported, []string{"b.tar", "a.tar"}) {
		t.Fatalf("imported %v, want [b.tar a.tar]", r.imported)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	r := newRig(t)
	state := filepath.Join(t.TempDir(), "image-preload.json")
	old := r.now.Add(-time.Hour)
	r.write(t, "a.tar", "x", old)
	r.write(t, "b.tar", "y", old)
	r.preloader(state).Scan(context.Background())
	if got := r.imp.took(); len(got) != 2 {
		t.Fatalf("first start imported %v", got)
	}
	// A restart: unchanged tarballs are skipped, a changed one is imported.
	r.write(t, "b.tar", "y2", old.Add(time.Minute))
	r.preloader(state).Scan(context.Background())
	if got := r.imp.took(); !reflect.DeepEqual(got, []string{"b.tar"}) {
		t.Fatalf("after a restart imported %v, want [b.tar]", got)
	}
	// A state file that does not parse means importing everything again.
	if err := os.WriteFile(state, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.preloader(state).Scan(context.Background())
	if got := r.imp.took(); len(got) != 2 {
		t.Fatalf("with a broken state file imported %v, want both", got)
	}
}

func TestRunImportsNewTarball(t *testing.T) {
	dir := t.TempDir()
	imp := &fakeImporter{}
	done := make(chan string, 4)
	p := New(Config{Dir: dir, Importer: imp, Quiet: 20 * time.Millisecond, Period: time.Hour,
		OnImported: func(file string, _ []string) { done <- filepath.Base(file) }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error)
	go func() { stopped <- p.Run(ctx) }()
	if err := os.WriteFile(filepath.Join(dir, "late.tar"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got != "late.tar" {
			t.Fatalf("imported %s, want late.tar", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a tarball dropped in the directory was not imported")
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

func TestTarballWritableByOthersIsRefused(t *testing.T) {
	r := newRig(t)
	old := r.now.Add(-time.Hour)
	r.write(t, "a.tar", "x", old)
	r.write(t, "b.tar", "y", old)
	if err := os.Chmod(filepath.Join(r.dir, "a.tar"), 0o666); err != nil {
		t.Fatal(err)
	}
	p := r.preloader("")
	p.Scan(context.Background())
	if got := r.imp.took(); !reflect.DeepEqual(got, []string{"b.tar"}) {
		t.Fatalf("imported %v, want [b.tar]", got)
	}
	if !reflect.DeepEqual(r.failed, []string{"a.tar"}) {
		t.Fatalf("failed %v, want [a.tar]", r.failed)
	}
	// A directory others can write is not read at all.
	if err := os.Chmod(r.dir, 0o777); err != nil {
		t.Fatal(err)
	}
	r.write(t, "c.tar", "z", old)
	p.Scan(context.Background())
	if got := r.imp.took(); len(got) != 0 {
		t.Fatalf("imported %v from a directory writable by others", got)
	}
}
