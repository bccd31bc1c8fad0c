package sync

import (
	"context"
)

// replace stops and removes every old sandbox of a pod whose manifest
// changed, before the new version is created: the old pod is fully gone
// first, so host ports and files are free.
func (l *Loop) replace(ctx context.Context, p podPlan) error {
	replaced := false
	for _, s := range p.kill {
		reason := "replaced"
		if s.uid() == p.desired.UID && s.hash() == p.desired.Hash {
			reason = "sandbox died"
		} else {
			replaced = true
		}
		if err := l.killSandbox(ctx, s, reason); err != nil {
			return err
		}
	}
	if replaced {
		l.log.Info("pod replaced", "pod", p.key, "file", p.desired.File, "uid", p.desired.UID)
		l.event(Event{Type: EventPodReplaced, Pod: p.key, File: p.desired.File, Message: "manifest changed; new uid " + p.desired.UID})
	}
	return nil
}
