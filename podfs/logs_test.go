package podfs

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLogTailIsTheEndOfACRILog(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		b.WriteString("2026-01-01T00:00:00.000000000Z stdout F line " + strings.Repeat("x", i%3) + "\n")
	}
	b.WriteString("2026-01-01T00:00:00.000000000Z stderr F last words\n")
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tail := LogTail(path)
	lines := strings.Split(tail, "\n")
	if len(lines) != 80 || lines[79] != "last words" || strings.Contains(tail, "stdout F") {
		t.Errorf("tail has %d lines, last %q; want the last 80 contents", len(lines), lines[len(lines)-1])
	}
	if LogTail(filepath.Join(t.TempDir(), "missing.log")) != "" {
		t.Error("a missing log has a tail")
	}
}

func TestPruneKeepsTheGivenRestartCounts(t *testing.T) {
	l := &Logs{Dir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}
	p := PodRef{Namespace: "default", Name: "web-n1", UID: "u1"}
	dir := filepath.Join(l.PodDir(p), "main")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"0.log", "0.log.20260101-000000.gz", "1.log", "2.log", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l.Prune(p, "main", map[uint32]bool{1: true, 2: true})
	es, _ := os.ReadDir(dir)
	var got []string
	for _, e := range es {
		got = append(got, e.Name())
	}
	if want := []string{"1.log", "2.log", "notes.txt"}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	l.Prune(PodRef{Namespace: "default", Name: "x", UID: "../.."}, "main", nil) // refused, not a panic
}

func TestRotateLogUndoesTheRenameWhenReopenFails(t *testing.T) {
	log := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(log, []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := RotateLog(log, 3, now, func() error { return errors.New("no") }); err == nil {
		t.Fatal("a failed reopen is no error")
	}
	if b, _ := os.ReadFile(log); string(b) != "content" {
		t.Errorf("log holds %q after a failed rotation, want it back", b)
	}
	if err := RotateLog(log, 3, now, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(log + ".20260101-000000"); err != nil {
		t.Errorf("rotated file: %v", err)
	}
}
