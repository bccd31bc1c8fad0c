package mirror

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/sync"
)

// opKind is what one API call does to a mirror pod.
type opKind int

// The calls the controller makes.
const (
	opCreate opKind = iota
	opDelete
	opPatch
)

// String names k for logs.
func (k opKind) String() string {
	return [...]string{"create", "delete", "patch status"}[k]
}

// op is one API call planned for the pod key.
type op struct {
	kind opKind
	key  string
	// hash is the version the call is for: the desired one for a create,
	// the mirror pod's for a delete or patch.
	hash string
	// pod is the mirror pod to create, or the one to delete or patch.
	pod *corev1.Pod
	// old and status are the status patched from and to.
	old, status corev1.PodStatus
}

// view is one observation: what is desired, published and in the API.
type view struct {
	desired   map[string]*manifest.StaticPod
	published map[string]*sync.PodStatus
	nodeUID   types.UID
	nodeKnown bool
	now       time.Time
}

// sync observes the manifests, the loop's status and the API's mirror
// pods, plans at most one call per pod, and starts the calls without
// waiting for them.
func (c *Controller) sync(ctx context.Context) {
	if !c.informer.HasSynced() {
		return // the first list has not succeeded yet: nothing is known
	}
	snap := c.cfg.Desired.Snapshot()
	if !snap.Available {
		return
	}
	v := view{published: map[string]*sync.PodStatus{}, now: c.cfg.Clock.Now()}
	pss := c.cfg.Status.Pods()
	for i := range pss {
		v.published[pss[i].Key()] = &pss[i]
	}
	v.desired = desiredPods(snap.Pods, v.published)
	v.nodeUID, v.nodeKnown = c.cfg.Node.NodeUID()
	listed, err := c.lister.List(labels.Everything())
	if err != nil {
		return
	}
	c.mu.Lock()
	existing := c.mirrors(listed)
	var todo []*op
	for key := range union(v.desired, existing) {
		r := c.record(key)
		if o := c.plan(key, r, existing[key], v); o != nil {
			r.busy = true
			todo = append(todo, o)
		}
	}
	c.forget(v.desired, existing)
	c.mu.Unlock()
	for _, o := range todo {
		c.inflight.Add(1)
		go c.apply(ctx, o)
	}
}

// desiredPods maps pod keys to the static pod each mirror pod follows:
// among files with the same key, the one the loop runs, else the first.
func desiredPods(pods []*manifest.StaticPod, published map[string]*sync.PodStatus) map[string]*manifest.StaticPod {
	out := map[string]*manifest.StaticPod{}
	for _, sp := range pods {
		key := sp.Key()
		prev, dup := out[key]
		ps := published[key]
		if !dup || (ps != nil && ps.Hash == sp.Hash && ps.Hash != prev.Hash) {
			out[key] = sp
		}
	}
	return out
}

// mirrors maps pod keys to this node's mirror pods as bosun knows them: the
// informer's, without those bosun deleted, with those it created that the
// informer does not show yet. c.mu must be held.
func (c *Controller) mirrors(listed []*corev1.Pod) map[string]*corev1.Pod {
	out := map[string]*corev1.Pod{}
	for _, p := range listed {
		if !isMirror(p, c.cfg.NodeName) {
			continue
		}
		key := p.Namespace + "/" + p.Name
		r := c.pods[key]
		if r != nil && r.created != nil && r.created.UID == p.UID {
			r.created = nil
		}
		if r != nil && r.deleted != "" && r.deleted == p.UID {
			continue
		}
		out[key] = p
	}
	for key, r := range c.pods {
		if _, ok := out[key]; !ok && r.created != nil {
			out[key] = r.created
		}
	}
	return out
}

// union is the set of keys of a and b.
func union(a map[string]*manifest.StaticPod, b map[string]*corev1.Pod) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// forget drops the records of pods that are neither desired nor mirrored
// and have no call in flight. c.mu must be held.
func (c *Controller) forget(desired map[string]*manifest.StaticPod, existing map[string]*corev1.Pod) {
	for key, r := range c.pods {
		if desired[key] == nil && existing[key] == nil && !r.busy {
			delete(c.pods, key)
		}
	}
}

// plan is the one call to make for pod key now, nil for none. c.mu must be
// held.
func (c *Controller) plan(key string, r *record, ex *corev1.Pod, v view) *op {
	if r.busy {
		return nil
	}
	sp := v.desired[key]
	if sp != nil && r.seenHash != sp.Hash {
		r.seenHash, r.seen = sp.Hash, v.now
	}
	if sp != nil && r.rejectedHash != "" && r.rejectedHash != sp.Hash {
		r.rejectedHash, r.problem, r.retryAt = "", "", time.Time{} // a new version: try it at once
	}
	if v.now.Before(r.retryAt) {
		return nil
	}
	switch {
	case sp == nil && ex == nil:
		return nil
	case ex == nil && !v.nodeKnown:
		return nil // NodeRestriction needs the owner reference to the Node
	case ex == nil:
		return &op{kind: opCreate, key: key, hash: sp.Hash, pod: mirrorPod(sp, c.cfg.NodeName, v.nodeUID, r.seen)}
	case sp == nil || !upToDate(ex, sp):
		return &op{kind: opDelete, key: key, hash: ex.Annotations[AnnotationSpecHash], pod: ex}
	case v.now.Before(r.patchedAt.Add(c.cfg.Period)):
		return nil
	}
	base := ex.Status
	if r.written != nil && r.writtenUID == ex.UID {
		base = *r.written
	}
	st := podStatus(statusInput{pod: ex, base: base, ps: v.published[key], hash: sp.Hash, nodeIP: c.cfg.NodeIP, now: v.now})
	if statusEqual(st, base) {
		return nil
	}
	return &op{kind: opPatch, key: key, hash: sp.Hash, pod: ex, old: base, status: st}
}
