package runtime

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The cgroup v2 files the kubelet sets through the CRI's unified resources.
const (
	cgroup2OOMGroup = "memory.oom.group"
	cgroup2SwapMax  = "memory.swap.max"
)

// maxProcCgroupBytes bounds the read of /proc/self/cgroup.
const maxProcCgroupBytes = 64 << 10

// CgroupMemory is what the node's cgroups can do with memory, as the
// kubelet checks it before it sets a container's OOM group and swap.
type CgroupMemory struct {
	// V2 is whether the cgroups are the unified (v2) hierarchy.
	V2 bool
	// Swap is whether the memory controller limits swap: the kubelet's
	// swapControllerAvailable (memory.memsw.limit_in_bytes on v1,
	// memory.swap.max in bosun's own cgroup on v2).
	Swap bool
}

// DetectCgroupMemory reads what the cgroups mounted at root can do with
// memory; selfCgroup is /proc/self/cgroup. A file that cannot be read
// counts as a controller that is not there, as the kubelet counts it.
func DetectCgroupMemory(root, selfCgroup string) CgroupMemory {
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	m := CgroupMemory{V2: exists(filepath.Join(root, "cgroup.controllers"))}
	if !m.V2 {
		m.Swap = exists(filepath.Join(root, "memory", "memory.memsw.limit_in_bytes"))
		return m
	}
	f, err := os.Open(selfCgroup)
	if err != nil {
		return m
	}
	defer f.Close()
	if own, ok := unifiedCgroup(io.LimitReader(f, maxProcCgroupBytes)); ok {
		m.Swap = exists(filepath.Join(root, filepath.Clean("/"+own), cgroup2SwapMax))
	}
	return m
}

// unifiedCgroup is the cgroup v2 path of a /proc/<pid>/cgroup ("0::<path>").
func unifiedCgroup(r io.Reader) (string, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p, true
		}
	}
	return "", false
}

// memoryLimits adds to r what the kubelet (v1.37) sets for a container's
// memory beyond its limit. On cgroup v2, memory.oom.group=1 unless
// singleProcessOOMKill (the kubelet's default there is false: an OOM kill
// takes the whole container). Where the memory controller limits swap, no
// container swaps: the kubelet's NoSwap, which it gives every static pod
// (critical pods never get LimitedSwap, and NoSwap is its default) -
// memory.swap.max=0 on v2, and on v1 a memory+swap limit equal to the
// memory limit (no limit when there is no memory limit).
func memoryLimits(r *runtimeapi.LinuxContainerResources, node Node) {
	unified := map[string]string{}
	if node.Memory.V2 && !node.SingleProcessOOMKill {
		unified[cgroup2OOMGroup] = "1"
	}
	if node.Memory.Swap {
		if node.Memory.V2 {
			unified[cgroup2SwapMax] = "0"
		} else {
			r.MemorySwapLimitInBytes = r.MemoryLimitInBytes
		}
	}
	if len(unified) > 0 {
		r.Unified = unified
	}
}
