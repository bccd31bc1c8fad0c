package sync

import (
	"context"
	"errors"
	"fmt"
	stdsync "sync"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
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
	// reasonDied: the sandbox died and a newer one is kept (or it is a
	// second ready one); the same version of the pod lives on (in a new
	// sandbox, or done), so its directories and the logs of the sandboxes
	// that stay remain.
	reasonDied
)

func (r killReason) String() string {
	switch r {
	case reasonRemoved:
		return "removed"
	case reasonReplaced:
		return "replaced"
	}
	return "dead sandbox collected"
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

// killSandboxes stops and removes the sandboxes a plan kills, and returns
// those whose removal waits for the new version: when the plan creates a
// sandbox, the replaced sandboxes of another uid. Of those, only the
// containers are stopped here (stopRunning), so that no process of the old version runs when a container
// of the new one starts; createBeside stops the sandboxes while the new one
// is made, and removeReplaced removes them once its containers started. A
// sandbox of the desired uid (a dead one, or an explicit metadata.uid kept
// across a change) shares its pod directory, log directory and cgroup with
// the new version, so it is stopped and removed first; so is every old
// sandbox when the new version maps host ports through the pod network (the
// old mappings are gone before the new ones are made).
func (l *Loop) killSandboxes(ctx context.Context, p podPlan) ([]*observedSandbox, error) {
	var old []*observedSandbox
	replaced := false
	beside := p.create && !runtime.MapsHostPorts(p.desired.Pod)
	for _, s := range p.kill {
		reason := reasonFor(p.desired, s)
		replaced = replaced || reason == reasonReplaced
		if beside && reason == reasonReplaced && s.UID != p.desired.UID {
			old = append(old, s)
			continue
		}
		if err := l.killSandbox(ctx, s, reason, p.survivors()); err != nil {
			return nil, err
		}
	}
	for _, s := range old {
		if err := l.stopRunning(ctx, describe(s), s); err != nil {
			return nil, err
		}
	}
	if replaced && len(old) == 0 {
		l.replaced(p)
	}
	return old, nil
}

// createBeside creates the new sandbox of plan p while it stops the old
// sandboxes, whose containers are stopped already, and waits for both. When
// a stop failed it returns the error and no target: no container of the
// new version starts beside an old sandbox that may still run; the next
// sync sees the new sandbox as current and kills the old one first. When
// only the creation failed, the stopped old sandboxes are removed.
func (l *Loop) createBeside(ctx context.Context, p podPlan, old []*observedSandbox) (podTarget, error) {
	stopErrs := make([]error, len(old))
	var wg stdsync.WaitGroup
	for i, s := range old {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.rt.StopPodSandbox(ctx, s.ID); err != nil {
				stopErrs[i] = fmt.Errorf("pod %s: %w", describe(s), err)
			}
		}()
	}
	t, err := l.sandboxFor(ctx, p)
	wg.Wait()
	if stopErr := errors.Join(stopErrs...); stopErr != nil {
		return podTarget{}, errors.Join(stopErr, err)
	}
	if err != nil {
		return podTarget{}, errors.Join(err, l.removeReplaced(ctx, p, old))
	}
	return t, nil
}

// removeReplaced removes the stopped sandboxes of the old version, with
// their directories, logs and cgroups, and reports the replacement.
func (l *Loop) removeReplaced(ctx context.Context, p podPlan, old []*observedSandbox) error {
	for _, s := range old {
		if err := l.removeSandbox(ctx, s, reasonReplaced, nil); err != nil {
			return err
		}
	}
	l.replaced(p)
	return nil
}

// replaced logs and records that pod p's old version is gone.
func (l *Loop) replaced(p podPlan) {
	l.log.Info("pod replaced", "pod", p.key, "file", p.desired.File, "uid", p.desired.UID)
	l.event(Event{Type: EventPodReplaced, Pod: p.key, File: p.desired.File, Message: "manifest changed; new uid " + p.desired.UID})
}
