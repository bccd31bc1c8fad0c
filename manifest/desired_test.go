package manifest

import (
	"fmt"
	"testing"
)

func TestDesiredSetKeepsTheRunningFileElseTheFirst(t *testing.T) {
	pod := func(file, name, cmd string) *StaticPod {
		y := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  containers:\n  - name: c\n    image: busybox\n    command: [%q]\n", name, cmd)
		sp, err := Load(file, []byte(y), "node1")
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	a, b, other := pod("/m/a.yaml", "dup", "a"), pod("/m/b.yaml", "dup", "b"), pod("/m/c.yaml", "other", "c")
	for _, tc := range []struct {
		name    string
		running *StaticPod
		want    string
	}{
		{"none runs: the lexically first file wins", nil, "/m/a.yaml"},
		{"the later file runs: it keeps running", b, "/m/b.yaml"},
		{"the first file runs: it keeps running", a, "/m/a.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var runs func(*StaticPod) bool
			if tc.running != nil {
				runs = func(sp *StaticPod) bool { return sp == tc.running }
			}
			set, conflicts := DesiredSet([]*StaticPod{a, b, other}, runs)
			if len(set) != 2 || set[a.Key()].File != tc.want || set[other.Key()] != other {
				t.Fatalf("set %v, want %s for %s", set, tc.want, a.Key())
			}
			loser := "/m/b.yaml"
			if tc.want == loser {
				loser = "/m/a.yaml"
			}
			want := fmt.Sprintf("manifest %s: pod default/dup-node1 is already defined by %s; ignored", loser, tc.want)
			if len(conflicts) != 1 || conflicts[0].Error() != want {
				t.Errorf("conflicts %v, want [%s]", conflicts, want)
			}
		})
	}
}
