package sync

import (
	"context"

	"github.com/bosun-sh/bosun/manifest"
)

// killReason says why a sandbox is stopped and removed.
type killReason int

const (
	// reasonRemoved: no manifest asks for the pod any more; it is gone for
	// good, with its directories and logs.
	reasonRemoved killReason = iota
	// reasonReplaced: the pod's manifest changed; the old version is gone
	// for good.
	reasonReplaced
	// reasonDied: the sandbox died; the same version of the pod lives on
	// (in a new sandbox, or done), so its directories and logs stay.
	reasonDied
)

func (r killReason) String() string {
	switch r {
	case reasonRemoved:
		return "removed"
	case reasonReplaced:
		return "replaced"
	}
	return "sandbox died"
}

// reasonFor is why sandbox s of a pod is killed when desired (nil: no
// manifest) is what should run.
func reasonFor(desired *manifest.StaticPod, s *observedSandbox) killReason {
	switch {
	case desired == nil:
		return reasonRemoved
	case s.UID == desired.UID && s.Hash == desired.Hash:
		return reasonDied
	}
	return reasonReplaced
}

// replace stops and removes every old sandbox of a pod whose manifest
// changed, before the new version is created: the old pod is fully gone
// first, so host ports and files are free.
func (l *Loop) replace(ctx context.Context, p podPlan) error {
	replaced := false
	for _, s := range p.kill {
		reason := reasonFor(p.desired, s)
		if reason == reasonReplaced {
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
