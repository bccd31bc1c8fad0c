package sync

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"

	"github.com/bosun-sh/bosun/manifest"
)

// desiredSet maps pod keys to the static pod that should run
// (manifest.DesiredSet: when two files name the same pod, the one already
// running wins, else the lexically first); each conflict is reported once.
func (l *Loop) desiredSet(ctx context.Context, snap manifest.Snapshot, observed map[string]*observedPod) map[string]*manifest.StaticPod {
	out, conflicts := manifest.DesiredSet(snap.Pods, func(sp *manifest.StaticPod) bool { return runs(observed[sp.Key()], sp) })
	for _, c := range conflicts {
		msg := c.Error()
		if l.reportOnce(ctx, slog.LevelError, c.File, msg) {
			l.event(Event{Type: EventManifestConflict, Pod: c.Key, File: c.File, Message: msg})
		}
	}
	for _, sp := range holdBack(out, observed) {
		delete(out, sp.desired.Key())
		msg := fmt.Sprintf("manifest %s: metadata.uid: pod %s waits until pod %s, which has the same uid %s, is gone", sp.desired.File, sp.desired.Key(), sp.holder, sp.desired.UID)
		if l.reportOnce(ctx, slog.LevelWarn, sp.desired.File, msg) {
			l.event(Event{Type: EventManifestConflict, Pod: sp.desired.Key(), File: sp.desired.File, Message: msg})
		}
	}
	l.mu.Lock()
	l.uids = uidHolders(out, observed)
	l.mu.Unlock()
	return out
}

// heldBack is a new pod that must wait: another pod (holder) still has a
// sandbox with its UID.
type heldBack struct {
	desired *manifest.StaticPod
	holder  string
}

// holdBack lists the desired pods that do not run yet and whose UID a
// sandbox of another pod still has (a pod whose manifest is broken or was
// just deleted): the UID names the pod directory and cgroup, so the new pod
// waits until the old one and its files are gone rather than share them.
func holdBack(desired map[string]*manifest.StaticPod, observed map[string]*observedPod) []heldBack {
	holders := uidHolders(nil, observed)
	var out []heldBack
	for key, sp := range desired {
		if observed[key] != nil {
			continue // it runs: never stopped for another pod's sake
		}
		for _, h := range holders[sp.UID] {
			if h != key {
				out = append(out, heldBack{desired: sp, holder: h})
				break
			}
		}
	}
	return out
}

// uidHolders maps each UID to the keys of the desired pods and observed
// sandboxes that have it.
func uidHolders(desired map[string]*manifest.StaticPod, observed map[string]*observedPod) map[string][]string {
	out := map[string][]string{}
	add := func(uid, key string) {
		if !slices.Contains(out[uid], key) {
			out[uid] = append(out[uid], key)
		}
	}
	for key, sp := range desired {
		add(sp.UID, key)
	}
	for key, p := range observed {
		for _, s := range p.sandboxes {
			add(s.UID, key)
		}
	}
	return out
}

// sharedUID reports another pod that has uid, as the last sync saw it.
func (l *Loop) sharedUID(uid, key string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range l.uids[uid] {
		if h != key {
			return h, true
		}
	}
	return "", false
}

// runs reports whether a ready sandbox of sp's version exists.
func runs(obs *observedPod, sp *manifest.StaticPod) bool {
	if obs == nil {
		return false
	}
	for _, s := range obs.sandboxes {
		if s.Ready && s.UID == sp.UID && s.Hash == sp.Hash {
			return true
		}
	}
	return false
}

// protected reports whether a pod no manifest asks for must keep running:
// the directory is unavailable, or the pod's manifest still exists but does
// not load (a broken file never stops its pod).
func protected(snap manifest.Snapshot, obs *observedPod) bool {
	if !snap.Available {
		return true
	}
	if obs == nil {
		return false
	}
	for _, s := range obs.sandboxes {
		if _, broken := snap.Errors[s.Manifest]; broken {
			return true
		}
	}
	return false
}

// manifestError is the load error of the file a pod comes from.
func manifestError(snap manifest.Snapshot, desired *manifest.StaticPod, obs *observedPod) error {
	if desired != nil {
		return snap.Errors[desired.File]
	}
	if obs != nil {
		for _, s := range obs.sandboxes {
			if err, ok := snap.Errors[s.Manifest]; ok {
				return err
			}
		}
	}
	return nil
}

// reportOnce logs msg at level unless it was the last message reported for
// file, and reports whether it did.
func (l *Loop) reportOnce(ctx context.Context, level slog.Level, file, msg string) bool {
	l.mu.Lock()
	same := l.files[file] == msg
	l.files[file] = msg
	l.mu.Unlock()
	if !same {
		l.log.Log(ctx, level, msg)
	}
	return !same
}

// sourceState records manifest errors and the directory's availability as
// events, once per content, and keeps them for Manifests.
func (l *Loop) sourceState(snap manifest.Snapshot) {
	var ms []ManifestStatus
	var events []Event
	for file, why := range snap.Ignored {
		ms = append(ms, ManifestStatus{File: file, Ignored: why})
	}
	l.mu.Lock()
	for file, err := range snap.Errors {
		ms = append(ms, ManifestStatus{File: file, Error: err.Error()})
		if l.manifestErrs[file] != err.Error() {
			l.manifestErrs[file] = err.Error()
			events = append(events, Event{Type: EventManifestRejected, File: file, Message: err.Error()})
		}
	}
	for file := range l.manifestErrs {
		if _, still := snap.Errors[file]; !still {
			delete(l.manifestErrs, file)
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].File < ms[j].File })
	down := !snap.Available && snap.Err != nil
	if down && !l.srcDown {
		events = append(events, Event{Type: EventManifestsUnreadable, Message: snap.Err.Error()})
	}
	l.srcDown = down
	l.view = &view{pods: l.view.pods, manifests: ms}
	l.mu.Unlock()
	for _, e := range events {
		l.event(e)
	}
}

// short abbreviates a runtime ID as crictl does.
func short(id string) string {
	if len(id) > 13 {
		return id[:13]
	}
	return id
}

// describe names a pod in messages.
func describe(s *observedSandbox) string { return fmt.Sprintf("%s/%s", s.Namespace, s.Name) }
