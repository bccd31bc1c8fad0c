package podfs

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rotationDir makes <logs>/default_web_u1/main with a 0.log in it and
// returns the log's path.
func rotationDir(t *testing.T) string {
	t.Helper()
	return writeLog(t, t.TempDir(), "2026-01-01T00:00:00Z stdout F current\n")
}

// gunzipped is the content of the gzip file path, "" if it cannot be read.
func gunzipped(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	r, err := gzip.NewReader(f)
	if err != nil {
		return ""
	}
	b, _ := io.ReadAll(r)
	return string(b)
}

func TestRotationNeverCompressesALinkPlantedAsARotatedLog(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root's secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := rotationDir(t)
	planted := log + ".20250101-000000"
	if err := os.Symlink(secret, planted); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := RotateLog(log, 5, now, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(log))
	for _, e := range entries {
		if got := gunzipped(filepath.Join(filepath.Dir(log), e.Name())); strings.Contains(got, "secret") {
			t.Errorf("rotation compressed the link's target into %s", e.Name())
		}
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "root's secret\n" {
		t.Errorf("the link's target changed: %q %v", b, err)
	}
	if b, err := os.ReadFile(log + ".20260101-000000"); err != nil || !strings.Contains(string(b), "current") {
		t.Errorf("the log was not rotated: %q %v", b, err)
	}
}

func TestRotationNeverCompressesASecondNameOfAnotherFile(t *testing.T) {
	log := rotationDir(t)
	other := filepath.Join(filepath.Dir(filepath.Dir(log)), "other")
	if err := os.WriteFile(other, []byte("not a log\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(other, log+".20250101-000000"); err != nil {
		t.Fatal(err)
	}
	if err := RotateLog(log, 5, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := gunzipped(log + ".20250101-000000.gz"); got != "" {
		t.Errorf("rotation compressed a hard link: %q", got)
	}
}

func TestRotationOfAFIFOPlantedAsARotatedLogDoesNotBlock(t *testing.T) {
	log := rotationDir(t)
	if err := syscall.Mkfifo(log+".20250101-000000", 0o666); err != nil {
		t.Fatal(err)
	}
	if err := RotateLog(log, 5, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestRotationBelowALinkedContainerDirectoryIsRefused(t *testing.T) {
	log := rotationDir(t)
	elsewhere := t.TempDir()
	if err := os.WriteFile(filepath.Join(elsewhere, "0.log"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(elsewhere, "0.log.20250101-000000"), []byte("y"), 0o600); err != nil {
		t.Fatal(err)
	}
	cdir := filepath.Dir(log)
	if err := os.RemoveAll(cdir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, cdir); err != nil {
		t.Fatal(err)
	}
	if err := RotateLog(log, 5, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), func() error { return nil }); err == nil {
		t.Error("rotation below a linked container directory is no error")
	}
	if names := dirNames(t, elsewhere); strings.Join(names, " ") != "0.log 0.log.20250101-000000" {
		t.Errorf("the link's target directory now holds %v", names)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestRotationKeepsMaxFilesAndCompressesAllButTheNewest(t *testing.T) {
	log := rotationDir(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		if err := os.WriteFile(log, []byte("rotation "+string(rune('a'+i))), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := RotateLog(log, 3, start.Add(time.Duration(i)*time.Second), func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	want := "0.log.20260101-000003.gz 0.log.20260101-000004"
	if got := strings.Join(dirNames(t, filepath.Dir(log)), " "); got != want {
		t.Errorf("left %s, want %s", got, want)
	}
	if got := gunzipped(log + ".20260101-000003.gz"); got != "rotation d" {
		t.Errorf("compressed file holds %q", got)
	}
}
