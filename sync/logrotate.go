package sync

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// logRotatePeriod is how often container log sizes are checked.
const logRotatePeriod = 10 * time.Second

// rotateLogs rotates the log of every running container that grew past
// LogMaxSize, the way the kubelet does: rename the file, ask the runtime to
// reopen it, and keep LogMaxFiles files in all (the current one included).
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
			rotated := c.LogPath + "." + l.clk.Now().UTC().Format("20060102-150405.000000")
			if err := os.Rename(c.LogPath, rotated); err != nil {
				l.log.Warn("rotate container log", "pod", p.Key(), "container", c.Name, "err", err)
				continue
			}
			if err := l.rt.ReopenContainerLog(ctx, c.ID); err != nil {
				// The runtime still writes to the renamed file: put it back.
				_ = os.Rename(rotated, c.LogPath)
				l.log.Warn("reopen container log", "pod", p.Key(), "container", c.Name, "err", err)
				continue
			}
			l.log.Debug("container log rotated", "pod", p.Key(), "container", c.Name, "size", fi.Size())
			pruneRotated(c.LogPath, l.cfg.LogMaxFiles-1)
		}
	}
}

// pruneRotated keeps the newest keep rotated files of log and removes the
// rest. Rotated names end in a sortable timestamp.
func pruneRotated(log string, keep int) {
	old, err := filepath.Glob(log + ".*")
	if err != nil {
		return
	}
	sort.Strings(old)
	for len(old) > keep {
		_ = os.Remove(old[0])
		old = old[1:]
	}
}

// runLogRotation checks logs every logRotatePeriod until ctx ends.
func (l *Loop) runLogRotation(ctx context.Context) {
	if l.cfg.LogMaxSize <= 0 {
		return
	}
	t := time.NewTicker(logRotatePeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.rotateLogs(ctx)
		}
	}
}
