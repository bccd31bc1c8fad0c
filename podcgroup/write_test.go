package podcgroup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// expect checks the content of files below root.
func expect(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for f, want := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("%s = %q, want %q", f, b, want)
		}
	}
}

// v1Root is a cgroup v1 (or hybrid) layout: one directory per hierarchy,
// with cpu a link to cpu,cpuacct as on Debian.
func v1Root(t *testing.T) string {
	root := t.TempDir()
	for _, d := range []string{"memory", "cpu,cpuacct", "pids", "unified"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("cpu,cpuacct", filepath.Join(root, "cpu")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestWriteV1(t *testing.T) {
	root := v1Root(t)
	if err := Write(root, "/bosun/podabc", Limits{CPUShares: 768, CPUQuota: 75000, MemoryBytes: 96 * mi}); err != nil {
		t.Fatal(err)
	}
	expect(t, root, map[string]string{
		"memory/bosun/podabc/memory.limit_in_bytes":  "100663296",
		"cpu,cpuacct/bosun/podabc/cpu.shares":        "768",
		"cpu,cpuacct/bosun/podabc/cpu.cfs_period_us": "100000",
		"cpu,cpuacct/bosun/podabc/cpu.cfs_quota_us":  "75000",
	})
	// Again without limits: "no limit" is written over the old values.
	if err := Write(root, "/bosun/podabc", Limits{CPUShares: 2}); err != nil {
		t.Fatal(err)
	}
	expect(t, root, map[string]string{
		"memory/bosun/podabc/memory.limit_in_bytes": "-1",
		"cpu/bosun/podabc/cpu.shares":               "2",
		"cpu/bosun/podabc/cpu.cfs_quota_us":         "-1",
	})
}

func TestWriteV2(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpu memory pids"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(root, "/bosun/podabc", Limits{CPUShares: 1024, CPUQuota: 50000, MemoryBytes: 96 * mi}); err != nil {
		t.Fatal(err)
	}
	expect(t, root, map[string]string{
		"cgroup.subtree_control":       "+cpu +memory",
		"bosun/cgroup.subtree_control": "+cpu +memory",
		"bosun/podabc/memory.max":      "100663296",
		"bosun/podabc/cpu.max":         "50000 100000",
		"bosun/podabc/cpu.weight":      "39",
	})
	if err := Write(root, "/bosun/podabc", Limits{CPUShares: 2}); err != nil {
		t.Fatal(err)
	}
	expect(t, root, map[string]string{"bosun/podabc/memory.max": "max", "bosun/podabc/cpu.max": "max 100000", "bosun/podabc/cpu.weight": "1"})
}

func TestParentMustBeClean(t *testing.T) {
	root := v1Root(t)
	for _, p := range []string{"bosun/pod", "/bosun/../../etc", "/", "/bosun//pod"} {
		if err := Write(root, p, Limits{CPUShares: 2}); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Write(%q): %v, want an error naming it", p, err)
		}
		if err := Remove(root, p); err == nil {
			t.Errorf("Remove(%q): no error", p)
		}
	}
}

// TestRemove removes the pod cgroup in every hierarchy (cgroupfs lets rmdir
// remove a cgroup with its files, so the test tree has directories only),
// keeps /bosun, and reports a cgroup that still has a child.
func TestRemove(t *testing.T) {
	root := v1Root(t)
	for _, d := range []string{"memory", "cpu,cpuacct", "pids", "unified"} {
		if err := os.MkdirAll(filepath.Join(root, d, "bosun/podabc"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "pids/bosun/podbusy/container"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Remove(root, "/bosun/podabc"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"memory", "cpu,cpuacct", "pids", "unified"} {
		if _, err := os.Stat(filepath.Join(root, d, "bosun/podabc")); !os.IsNotExist(err) {
			t.Errorf("%s/bosun/podabc still there: %v", d, err)
		}
		if _, err := os.Stat(filepath.Join(root, d, "bosun")); err != nil {
			t.Errorf("%s/bosun removed: %v", d, err)
		}
	}
	if err := Remove(root, "/bosun/podabc"); err != nil {
		t.Errorf("Remove of a removed cgroup: %v", err)
	}
	if err := Remove(root, "/bosun/podbusy"); err == nil || !strings.Contains(err.Error(), "pids/bosun/podbusy") {
		t.Errorf("Remove of a cgroup with a child: %v, want an error naming it", err)
	}
}

func TestWritePidsAndPeriod(t *testing.T) {
	t.Run("cgroup v1 gets pids.max in the pids hierarchy and the period", func(t *testing.T) {
		root := v1Root(t)
		if err := Write(root, "/bosun/podabc", Limits{CPUShares: 2, CPUQuota: 5000, CPUPeriod: 10000, Pids: 1024}); err != nil {
			t.Fatal(err)
		}
		expect(t, root, map[string]string{"pids/bosun/podabc/pids.max": "1024", "cpu/bosun/podabc/cpu.cfs_period_us": "10000",
			"cpu/bosun/podabc/cpu.cfs_quota_us": "5000"})
		if err := Write(root, "/bosun/podabc", Limits{CPUShares: 2}); err != nil {
			t.Fatal(err)
		}
		expect(t, root, map[string]string{"pids/bosun/podabc/pids.max": "max", "cpu/bosun/podabc/cpu.cfs_period_us": "100000"})
	})
	t.Run("cgroup v2 enables pids and gets pids.max and the period in cpu.max", func(t *testing.T) {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpu memory pids"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Write(root, "/bosun/podabc", Limits{CPUShares: 2, CPUQuota: 5000, CPUPeriod: 10000, Pids: 1024}); err != nil {
			t.Fatal(err)
		}
		expect(t, root, map[string]string{"bosun/cgroup.subtree_control": "+pids", "bosun/podabc/pids.max": "1024", "bosun/podabc/cpu.max": "5000 10000"})
		if err := Write(root, "/bosun/podabc", Limits{CPUShares: 2}); err != nil {
			t.Fatal(err)
		}
		expect(t, root, map[string]string{"bosun/podabc/pids.max": "max"})
	})
	t.Run("without a limit and without pids.max nothing is written", func(t *testing.T) {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpu memory"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Write(root, "/bosun/podabc", Limits{CPUShares: 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "bosun/podabc/pids.max")); !os.IsNotExist(err) {
			t.Errorf("pids.max written: %v", err)
		}
	})
}
