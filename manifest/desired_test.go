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

func TestDesiredSetRunsOnlyOnePodPerUID(t *testing.T) {
	pod := func(file, name, uid string) *StaticPod {
		meta := "  name: " + name + "\n"
		if uid != "" {
			meta += "  uid: " + uid + "\n"
		}
		y := "apiVersion: v1\nkind: Pod\nmetadata:\n" + meta + "spec:\n  containers:\n  - name: c\n    image: busybox\n"
		sp, err := Load(file, []byte(y), "node1")
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	const uid = "0b7f2d3c-6a1e-4c55-9d8e-2f1a3b4c5d6e"
	a, b := pod("/m/a.yaml", "one", uid), pod("/m/b.yaml", "two", uid)
	hashed := pod("/m/c.yaml", "three", "")
	thief := pod("/m/d.yaml", "four", hashed.UID)
	for _, tc := range []struct {
		name          string
		pods          []*StaticPod
		running       *StaticPod
		winner, loser *StaticPod
	}{
		{"two manifests with one metadata.uid: the lexically first file wins", []*StaticPod{a, b}, nil, a, b},
		{"two manifests with one metadata.uid: the later file keeps running", []*StaticPod{a, b}, b, b, a},
		{"a metadata.uid that is another pod's hash: the first file wins", []*StaticPod{hashed, thief}, nil, hashed, thief},
		{"a metadata.uid that is another pod's hash: the running thief keeps running", []*StaticPod{hashed, thief}, thief, thief, hashed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var runs func(*StaticPod) bool
			if tc.running != nil {
				runs = func(sp *StaticPod) bool { return sp == tc.running }
			}
			set, conflicts := DesiredSet(tc.pods, runs)
			if len(set) != 1 || set[tc.winner.Key()] != tc.winner {
				t.Fatalf("set %v, want only %s", set, tc.winner.File)
			}
			want := fmt.Sprintf("manifest %s: metadata.uid: pod %s has uid %s, already the uid of pod %s in %s; ignored",
				tc.loser.File, tc.loser.Key(), tc.winner.UID, tc.winner.Key(), tc.winner.File)
			if len(conflicts) != 1 || conflicts[0].Error() != want || conflicts[0].Field != "metadata.uid" {
				t.Errorf("conflicts %v, want [%s]", conflicts, want)
			}
		})
	}
}
