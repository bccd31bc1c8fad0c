package manifest

import "fmt"

// Conflict is a manifest whose pod collides with another manifest's: the
// same namespace/name, or the same effective UID (which names the pod's
// directory and cgroup). Only one of them runs.
type Conflict struct {
	// Key is the ignored pod's "namespace/name".
	Key string
	// Field is what collides: "metadata.name" or "metadata.uid".
	Field string
	// UID is the shared UID when Field is "metadata.uid".
	UID string
	// File is the manifest that is ignored, Winner the one that runs.
	File, Winner string
	// WinnerKey is the running pod's "namespace/name".
	WinnerKey string
}

func (c *Conflict) Error() string {
	if c.Field == fieldUID {
		return fmt.Sprintf("manifest %s: metadata.uid: pod %s has uid %s, already the uid of pod %s in %s; ignored",
			c.File, c.Key, c.UID, c.WinnerKey, c.Winner)
	}
	return fmt.Sprintf("manifest %s: pod %s is already defined by %s; ignored", c.File, c.Key, c.Winner)
}

const (
	fieldName = "metadata.name"
	fieldUID  = "metadata.uid"
)

// DesiredSet maps each pod key to the one static pod that runs, from pods
// sorted by file (as Snapshot.Pods is). When two files define the same pod,
// or two pods have the same effective UID (metadata.uid, else the hash),
// the one whose version runs already (runs reports it; nil: none runs)
// keeps running, else the lexically first file wins. Each loser is a
// Conflict, in the order found. The daemon and `bosun validate` both decide
// through it.
func DesiredSet(pods []*StaticPod, runs func(*StaticPod) bool) (map[string]*StaticPod, []*Conflict) {
	if runs == nil {
		runs = func(*StaticPod) bool { return false }
	}
	byKey, conflicts := pick(pods, runs, fieldName, (*StaticPod).Key)
	var named []*StaticPod
	for _, sp := range pods {
		if byKey[sp.Key()] == sp {
			named = append(named, sp)
		}
	}
	byUID, uidConflicts := pick(named, runs, fieldUID, func(sp *StaticPod) string { return sp.UID })
	out := make(map[string]*StaticPod, len(byUID))
	for _, sp := range byUID {
		out[sp.Key()] = sp
	}
	return out, append(conflicts, uidConflicts...)
}

// pick keeps one pod per id(pod), in file order: the one that runs, else
// the first; each other is a Conflict on field.
func pick(pods []*StaticPod, runs func(*StaticPod) bool, field string, id func(*StaticPod) string) (map[string]*StaticPod, []*Conflict) {
	out := make(map[string]*StaticPod, len(pods))
	var conflicts []*Conflict
	for _, sp := range pods {
		k := id(sp)
		prev, ok := out[k]
		if !ok {
			out[k] = sp
			continue
		}
		winner, loser := prev, sp
		if runs(sp) && !runs(prev) {
			winner, loser = sp, prev
		}
		out[k] = winner
		c := &Conflict{Key: loser.Key(), Field: field, File: loser.File, Winner: winner.File, WinnerKey: winner.Key()}
		if field == fieldUID {
			c.UID = k
		}
		conflicts = append(conflicts, c)
	}
	return out, conflicts
}
