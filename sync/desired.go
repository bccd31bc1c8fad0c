package sync

import (
	"context"
	"fmt"
	"log/slog"
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
	return out
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
