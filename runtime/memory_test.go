package runtime

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDetectCgroupMemory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		self  string
		want  CgroupMemory
	}{
		{"cgroup v1 with memory.memsw limits swap", []string{"memory/memory.memsw.limit_in_bytes"}, "", CgroupMemory{Swap: true}},
		{"cgroup v1 without memory.memsw does not", []string{"memory/memory.limit_in_bytes"}, "", CgroupMemory{}},
		{"cgroup v2 limits swap when bosun's own cgroup has memory.swap.max", []string{"cgroup.controllers", "system.slice/bosun.service/memory.swap.max"},
			"0::/system.slice/bosun.service\n", CgroupMemory{V2: true, Swap: true}},
		{"cgroup v2 in the root cgroup has no memory.swap.max, as the kubelet finds", []string{"cgroup.controllers", "memory.stat"},
			"0::/\n", CgroupMemory{V2: true}},
		{"a cgroup path that climbs stays below the root", []string{"cgroup.controllers"},
			"0::/../../etc\n", CgroupMemory{V2: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tc.files {
				p := filepath.Join(root, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			self := filepath.Join(t.TempDir(), "cgroup")
			if err := os.WriteFile(self, []byte(tc.self), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := DetectCgroupMemory(root, self); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
