package sync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogsPastTheLimitAreRotatedAndPruned(t *testing.T) {
	logs := t.TempDir()
	h := newHarness(t, load(t, "/m/l.yaml", podYAML("l", "Always", "x", "main")))
	h.loop.cfg.Node.PodLogsDir = logs
	h.loop.cfg.LogMaxSize = 100
	h.loop.cfg.LogMaxFiles = 3
	h.sync()
	h.sync()
	st := h.status("default/l-node1")
	path := st.Containers[0].LogPath
	if !strings.HasPrefix(path, logs) {
		t.Fatalf("log path %s", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := os.WriteFile(path, []byte(strings.Repeat("x", 50+60*(i%2))), 0o644); err != nil {
			t.Fatal(err)
		}
		h.clock.Add(time.Second)
		h.loop.rotateLogs(t.Context())
	}
	// Writes of 110 bytes (i = 1, 3) were rotated; 50 bytes were not.
	rotated, _ := filepath.Glob(path + ".*")
	if len(rotated) != 2 || len(h.rt.reopened) != 2 {
		t.Errorf("rotated %v, reopened %v; want 2 of each", rotated, h.rt.reopened)
	}
	for range 3 {
		if err := os.WriteFile(path, []byte(strings.Repeat("y", 200)), 0o644); err != nil {
			t.Fatal(err)
		}
		h.clock.Add(time.Second)
		h.loop.rotateLogs(t.Context())
	}
	if rotated, _ = filepath.Glob(path + ".*"); len(rotated) != 2 {
		t.Errorf("kept %v, want the 2 newest rotated files (3 files in all)", rotated)
	}
}
