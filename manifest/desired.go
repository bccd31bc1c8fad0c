package manifest

import "fmt"

// Conflict is a manifest whose pod another manifest already defines: only
// one of them runs.
type Conflict struct {
	// Key is the pod's "namespace/name".
	Key string
	// File is the manifest that is ignored, Winner the one that runs.
	File, Winner string
}

func (c *Conflict) Error() string {
	return fmt.Sprintf("manifest %s: pod %s is already defined by %s; ignored", c.File, c.Key, c.Winner)
}

// DesiredSet maps each pod key to the one static pod that runs, from pods
// sorted by file (as Snapshot.Pods is). When two files define the same pod,
// the one whose version runs already (runs reports it; nil: none runs) keeps
// running, else the lexically first file wins. Each loser is a Conflict,
// in file order. The daemon and `bosun validate` both decide through it.
func DesiredSet(pods []*StaticPod, runs func(*StaticPod) bool) (map[string]*StaticPod, []*Conflict) {
	if runs == nil {
		runs = func(*StaticPod) bool { return false }
	}
	out := make(map[string]*StaticPod, len(pods))
	var conflicts []*Conflict
	for _, sp := range pods {
		key := sp.Key()
		prev, ok := out[key]
		if !ok {
			out[key] = sp
			continue
		}
		winner, loser := prev, sp
		if runs(sp) && !runs(prev) {
			winner, loser = sp, prev
		}
		out[key] = winner
		conflicts = append(conflicts, &Conflict{Key: key, File: loser.File, Winner: winner.File})
	}
	return out, conflicts
}
