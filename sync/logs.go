package sync

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/bosun-sh/bosun/podfs"
)

// logRotatePeriod is how often container log sizes and the links to the
// logs are checked.
const logRotatePeriod = 10 * time.Second

// runLogMaintenance rotates logs and keeps the log links every
// logRotatePeriod until ctx ends.
func (l *Loop) runLogMaintenance(ctx context.Context) {
	if l.cfg.LogMaxSize <= 0 && l.cfg.LogLinksDir == "" {
		return
	}
	t := l.clk.NewTicker(logRotatePeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if l.cfg.LogMaxSize > 0 {
				l.rotateLogs(ctx)
			}
			l.syncLogLinks()
		}
	}
}

// rotateLogs rotates the log of every running container that grew past
// LogMaxSize, as the kubelet does (podfs.RotateLog), the runtime reopening
// it.
func (l *Loop) rotateLogs(ctx context.Context) {
	for _, p := range l.Pods() {
		for _, c := range p.Containers {
			if c.State != "Running" || c.LogPath == "" || c.ID == "" {
				continue
			}
			fi, err := os.Stat(c.LogPath)
			if err != nil || fi.Size() < l.cfg.LogMaxSize {
				continue
			}
			reopen := func() error { return l.rt.ReopenContainerLog(ctx, c.ID) }
			if err := podfs.RotateLog(c.LogPath, l.cfg.LogMaxFiles, l.clk.Now(), reopen); err != nil {
				l.log.Warn("rotate container log", "pod", p.Key(), "container", c.Name, "file", c.LogPath, "err", err)
				continue
			}
			l.log.Debug("container log rotated", "pod", p.Key(), "container", c.Name, "size", fi.Size())
		}
	}
}

// syncLogLinks makes the missing log links of the containers of the last
// sync and removes stale ones (podfs.Logs.SyncLinks).
func (l *Loop) syncLogLinks() {
	if l.cfg.LogLinksDir == "" {
		return
	}
	var known []podfs.LinkedContainer
	for _, p := range l.Pods() {
		ref := podfs.PodRef{Namespace: p.Namespace, Name: p.Name, UID: p.UID}
		for _, c := range p.Containers {
			if c.ID != "" && c.LogPath != "" {
				known = append(known, podfs.LinkedContainer{Pod: ref, Name: c.Name, ID: c.ID, LogPath: c.LogPath})
			}
		}
	}
	l.logs.SyncLinks(known)
}

// pruneLogs removes the log links of the containers of the current sandbox
// s that are gone, and, for each container name with one gone, the log
// files (rotated ones included) of every restart count but the newest and
// the one before, which `bosun logs --previous` reads. started holds the
// restart counts of instances just started in s, which s.containers does
// not list yet.
func (l *Loop) pruneLogs(s *observedSandbox, gone map[string]bool, started map[string]uint32) {
	ref := podRefOf(s)
	keep := map[string]map[uint32]bool{}
	touched := map[string]bool{}
	for _, c := range s.containers { // newest first
		if keep[c.Name] == nil {
			newest := c.RestartCount
			if rc, ok := started[c.Name]; ok {
				newest = rc
			}
			keep[c.Name] = map[uint32]bool{newest: true}
			if newest > 0 && started != nil {
				keep[c.Name][newest-1] = true
			}
		}
		if gone[c.ID] {
			touched[c.Name] = true
			l.logs.Unlink(ref, c.Name, c.ID)
		}
	}
	for name := range touched {
		l.logs.Prune(ref, name, keep[name])
	}
}

// pruneRemoved removes the log links of the removed instances gone of pod
// ref (from a dead sandbox) and the log files (rotated ones included) of
// their restart counts, and no other: the instances that stay in the pod's
// sandboxes in stay keep theirs, and so, for each container name, does the
// newest count of all (the log `bosun logs --previous` of the next instance
// reads) and, while the newest instance may run, the one before it.
func (l *Loop) pruneRemoved(ref podfs.PodRef, gone []*observedContainer, stay []*observedSandbox) {
	type top struct {
		count  uint32
		mayRun bool
	}
	newest := map[string]top{}
	note := func(c *observedContainer, mayRun bool) {
		if t, ok := newest[c.Name]; !ok || c.RestartCount > t.count {
			newest[c.Name] = top{c.RestartCount, mayRun}
		}
	}
	removed := map[string]bool{}
	drop := map[string]map[uint32]bool{}
	for _, c := range gone {
		l.logs.Unlink(ref, c.Name, c.ID)
		removed[c.ID] = true
		note(c, false)
		if drop[c.Name] == nil {
			drop[c.Name] = map[uint32]bool{}
		}
		drop[c.Name][c.RestartCount] = true
	}
	var live []*observedContainer
	for _, s := range stay {
		if s.UID != ref.UID {
			continue // another uid's logs are in another directory
		}
		for _, c := range s.containers {
			if !removed[c.ID] {
				live = append(live, c)
				note(c, s.Ready && !c.Exited())
			}
		}
	}
	for _, c := range live {
		delete(drop[c.Name], c.RestartCount)
	}
	for name, counts := range drop {
		t := newest[name]
		delete(counts, t.count)
		if t.mayRun && t.count > 0 {
			delete(counts, t.count-1)
		}
		l.logs.PruneCounts(ref, name, counts)
	}
}

// restartCountFromLogs is the restart count of a container of pod ref that
// has no earlier instance the runtime or the loop knows of, as the
// kubelet's calcRestartCountByLogDir (podfs.Logs.NextRestartCount): the
// count of a pod whose runtime lost its state then goes on, and its new
// log does not overwrite an old one. What cannot be read counts as empty.
func (l *Loop) restartCountFromLogs(ref podfs.PodRef, container string) uint32 {
	n, err := l.logs.NextRestartCount(ref, container)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		l.log.Warn("read container log directory for its restart count", "pod", ref.Namespace+"/"+ref.Name, "container", container, "err", err)
	}
	return n
}
