package sync

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bosun-sh/bosun/podfs"
)

// loseRuntimeState makes h's runtime forget every sandbox and container, as
// a containerd whose state was wiped (a reboot with it on tmpfs), and
// starts a new loop, as bosun after that reboot.
func (h *harness) loseRuntimeState() {
	h.rt = newFakeRuntime(h.clock)
	h.loop = h.newLoop()
}

func TestRestartCountsGoOnFromTheLogDirectoryWhenTheRuntimeLostItsState(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string // made in the container's log directory
		// link replaces the container's log directory by a link to a
		// directory holding files.
		link bool
		want uint32
	}{
		{"one more than the highest log", []string{"0.log", "1.log", "2.log"}, false, 3},
		{"rotated logs count", []string{"1.log", "4.log.20260101-000000.gz", "4.log.20260101-000001"}, false, 5},
		{"other names are not counts", []string{"2.log", "9.logs", "x.log", "12", ".log", "99.lo"}, false, 3},
		{"counts past the API's int32 are ignored", []string{"1.log", "4294967295.log", "2147483647.log"}, false, 2},
		{"no logs start at 0", nil, false, 0},
		{"a link in place of the log directory is not followed", []string{"41.log"}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := load(t, "/m/p.yaml", podYAML("p", "Always", "x", "main"))
			h := newHarness(t, sp)
			h.sync()
			if c := h.mustRun("p-node1/main"); c.Metadata.Attempt != 0 {
				t.Fatalf("first attempt %d, want 0", c.Metadata.Attempt)
			}
			dir := filepath.Dir(h.loop.logs.ContainerLog(podfs.PodRef{Namespace: sp.Namespace, Name: sp.Name, UID: sp.UID}, "main", 0))
			files := dir
			if tc.link {
				files = filepath.Join(h.root, "elsewhere")
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(files, dir); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.MkdirAll(files, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(files, f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			h.loseRuntimeState()
			h.sync()
			if c := h.mustRun("p-node1/main"); c.Metadata.Attempt != tc.want {
				t.Errorf("attempt after the runtime lost its state %d, want %d", c.Metadata.Attempt, tc.want)
			}
		})
	}
}
