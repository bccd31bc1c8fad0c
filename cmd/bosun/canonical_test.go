package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestARootDirGivenThroughALinkIsReplacedByItsRealPathAndAnOpenOneIsWarnedOf(t *testing.T) {
	base := t.TempDir()
	realRoot := filepath.Join(base, "real")
	if err := os.Mkdir(realRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(realRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(realRoot, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	f := &daemonFlags{rootDir: filepath.Join(base, "link"), podLogsDir: base + "/./link/../real"}
	var out bytes.Buffer
	if err := canonicalDirs(slog.New(slog.NewTextHandler(&out, nil)), f); err != nil {
		t.Fatal(err)
	}
	if f.rootDir != realRoot || f.podLogsDir != realRoot {
		t.Errorf("root dir %s, pod logs dir %s; want both %s", f.rootDir, f.podLogsDir, realRoot)
	}
	if !strings.Contains(out.String(), "level=WARN") || !strings.Contains(out.String(), "mode=0755") {
		t.Errorf("no warning of a root dir others can enter in:\n%s", out.String())
	}
}
