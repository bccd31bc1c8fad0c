package sync

import (
	"context"
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

// pruneLogs removes the log links of the containers of sandbox s that are
// gone, and, for each container name with one gone, the log files (rotated
// ones included) of every restart count but the newest and the one before,
// which `bosun logs --previous` reads. started holds the restart counts of
// instances just started in s, which s.containers does not list yet. With
// started nil, s itself is gone and a new sandbox continues the counts:
// only the newest files stay, the previous ones of the next instance.
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
