package podcgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Root is where the host mounts its cgroup hierarchies.
const Root = "/sys/fs/cgroup"

// unified reports whether root is a cgroup v2 (unified) mount: it has
// cgroup.controllers. A v1 or hybrid host has one directory per controller.
func unified(root string) bool {
	_, err := os.Stat(filepath.Join(root, "cgroup.controllers"))
	return err == nil
}

// checkParent refuses a cgroup parent that is not a clean absolute path, so
// that it can never name something outside root.
func checkParent(parent string) error {
	if !path.IsAbs(parent) || path.Clean(parent) != parent || parent == "/" {
		return fmt.Errorf("pod cgroup %q: not a clean absolute cgroupfs path", parent)
	}
	return nil
}

// Write creates the pod cgroup parent (a cgroupfs path such as
// /bosun/pod<uid>) below root and writes l into it: on cgroup v1
// memory.limit_in_bytes, cpu.shares, cpu.cfs_period_us and cpu.cfs_quota_us
// in the memory and cpu hierarchies; on cgroup v2 memory.max, cpu.max and
// cpu.weight, after enabling the cpu and memory controllers for the
// cgroups above it. Every value is written, "no limit" too, so a cgroup left
// from an earlier pod with the same UID gets the new pod's values. A pids
// limit is written to pids.max (enabling the pids controller on cgroup v2);
// without one, a pids.max already there is set to "max". It is idempotent.
func Write(root, parent string, l Limits) error {
	if err := checkParent(parent); err != nil {
		return err
	}
	memory, quota := strconv.FormatInt(l.MemoryBytes, 10), strconv.FormatInt(l.CPUQuota, 10)
	period := strconv.FormatInt(l.CPUPeriod, 10)
	if l.CPUPeriod <= 0 {
		period = strconv.Itoa(CPUPeriod)
	}
	if unified(root) {
		if err := enableControllers(root, parent, "+cpu +memory"); err != nil {
			return err
		}
		if l.Pids > 0 {
			if err := enableControllers(root, parent, "+pids"); err != nil {
				return err
			}
		}
		if err := writePids(filepath.Join(root, parent), l.Pids); err != nil {
			return err
		}
		if l.MemoryBytes == 0 {
			memory = "max"
		}
		if l.CPUQuota == 0 {
			quota = "max"
		}
		return writeFiles(filepath.Join(root, parent), [][2]string{
			{"memory.max", memory},
			{"cpu.max", quota + " " + period},
			{"cpu.weight", strconv.FormatInt(sharesToWeight(l.CPUShares), 10)},
		})
	}
	if l.MemoryBytes == 0 {
		memory = "-1"
	}
	if l.CPUQuota == 0 {
		quota = "-1"
	}
	if err := writeFiles(filepath.Join(root, "memory", parent), [][2]string{{"memory.limit_in_bytes", memory}}); err != nil {
		return err
	}
	if err := writePids(filepath.Join(root, "pids", parent), l.Pids); err != nil {
		return err
	}
	return writeFiles(filepath.Join(root, "cpu", parent), [][2]string{
		{"cpu.shares", strconv.FormatInt(l.CPUShares, 10)},
		{"cpu.cfs_period_us", period},
		{"cpu.cfs_quota_us", quota},
	})
}

// sharesToWeight converts cgroup v1 cpu.shares (2..262144) to cgroup v2
// cpu.weight (1..10000), as runc and the kubelet convert them.
func sharesToWeight(shares int64) int64 {
	return 1 + ((shares-minShares)*9999)/(maxShares-minShares)
}

// writePids writes limit (0: "max") to pids.max in dir, the pod cgroup of
// the pids controller; without a limit it writes only over a pids.max that
// is there, so a host without the pids controller needs none.
func writePids(dir string, limit int64) error {
	if limit > 0 {
		return writeFiles(dir, [][2]string{{"pids.max", strconv.FormatInt(limit, 10)}})
	}
	if _, err := os.Stat(filepath.Join(dir, "pids.max")); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return writeFiles(dir, [][2]string{{"pids.max", "max"}})
}

// enableControllers writes controllers ("+cpu +memory") to
// cgroup.subtree_control of root and of each cgroup between root and
// parent, so that parent has the controllers' files.
func enableControllers(root, parent, controllers string) error {
	dir := root
	for _, part := range strings.Split(strings.TrimPrefix(parent, "/"), "/") {
		if err := writeFiles(dir, [][2]string{{"cgroup.subtree_control", controllers}}); err != nil {
			return err
		}
		dir = filepath.Join(dir, part)
	}
	return nil
}

// writeFiles creates dir (and the cgroups above it) and writes each
// name, value pair into it, in order.
func writeFiles(dir string, files [][2]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pod cgroup: %w", err)
	}
	for _, f := range files {
		p := filepath.Join(dir, f[0])
		if err := os.WriteFile(p, []byte(f[1]), 0o644); err != nil {
			return fmt.Errorf("pod cgroup: write %q to %s: %w", f[1], p, err)
		}
	}
	return nil
}

// Remove removes the pod cgroup parent below root in every hierarchy that
// has it (rmdir, as cgroupfs wants: the cgroup files do not count, a child
// cgroup or a process still in it does). The cgroups above it stay. What is
// already gone is not an error.
func Remove(root, parent string) error {
	if err := checkParent(parent); err != nil {
		return err
	}
	dirs := []string{filepath.Join(root, parent)}
	if !unified(root) {
		entries, err := os.ReadDir(root)
		if err != nil {
			return fmt.Errorf("pod cgroup: %w", err)
		}
		dirs = dirs[:0]
		for _, e := range entries {
			// Symlinks (cpu -> cpu,cpuacct) name a hierarchy listed anyway.
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(root, e.Name(), parent))
			}
		}
	}
	var errs []error
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("pod cgroup: %w", err))
		}
	}
	return errors.Join(errs...)
}
