package sync

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/podfs"
	"github.com/bosun-sh/bosun/runtime"
)

// logRotatePeriod is how often container log sizes and the links to the
// logs are checked.
const logRotatePeriod = 10 * time.Second

// The kubelet's names of rotated logs: <log>.<timestamp>, gzipped to
// <log>.<timestamp>.gz (all but the newest), through <...>.tmp.
const (
	rotatedTimeFormat = "20060102-150405"
	compressedSuffix  = ".gz"
	tmpSuffix         = ".tmp"
)

// maxFileName is the longest file name ext4 allows; the kubelet cuts the
// names of its log links to it.
const maxFileName = 255

// rotateLogs rotates the log of every running container that grew past
// LogMaxSize, as the kubelet does: rename the file to <log>.<timestamp>
// (local time), ask the runtime to reopen it, gzip the older rotated files,
// and keep LogMaxFiles files in all (the current one included).
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
			if err := l.rotateLog(ctx, c.ID, c.LogPath); err != nil {
				l.log.Warn("rotate container log", "pod", p.Key(), "container", c.Name, "file", c.LogPath, "err", err)
				continue
			}
			l.log.Debug("container log rotated", "pod", p.Key(), "container", c.Name, "size", fi.Size())
		}
	}
}

// rotateLog makes room for one more rotated file of log (removing the
// oldest ones, then compressing the rest), then renames log and has the
// runtime reopen it.
func (l *Loop) rotateLog(ctx context.Context, id, log string) error {
	rotated, err := rotatedLogs(log, true)
	if err != nil {
		return err
	}
	// After the rotation there are the current file, the newest rotated
	// one (not compressed) and at most LogMaxFiles-2 compressed ones.
	keep := max(l.cfg.LogMaxFiles-2, 0)
	for len(rotated) > keep {
		if err := os.Remove(rotated[0]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		rotated = rotated[1:]
	}
	for _, r := range rotated {
		if !strings.HasSuffix(r, compressedSuffix) {
			if err := compress(r); err != nil {
				return err
			}
		}
	}
	target := log + "." + l.clk.Now().Format(rotatedTimeFormat)
	if _, err := os.Lstat(target); err == nil {
		return nil // rotated less than a second ago: next time
	}
	if err := os.Rename(log, target); err != nil {
		return err
	}
	if err := l.rt.ReopenContainerLog(ctx, id); err != nil {
		// The runtime still writes to the renamed file: put it back.
		if rerr := os.Rename(target, log); rerr != nil {
			return fmt.Errorf("reopen: %w; rename back: %w", err, rerr)
		}
		return fmt.Errorf("reopen: %w", err)
	}
	return nil
}

// rotatedLogs lists the rotated files of log, oldest first. With cleanup,
// what a failed compression left is removed first: temporary files, and
// files whose compressed copy exists.
func rotatedLogs(log string, cleanup bool) ([]string, error) {
	all, err := filepath.Glob(globEscape(log) + ".*")
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, f := range all {
		have[f] = true
	}
	var out []string
	for _, f := range all {
		if strings.HasSuffix(f, tmpSuffix) || have[f+compressedSuffix] {
			if cleanup {
				if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return nil, err
				}
			}
			continue
		}
		out = append(out, f)
	}
	sort.Strings(out)
	return out, nil
}

// compress gzips file to file.gz (through file.gz.tmp) and removes file.
func compress(file string) (retErr error) {
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := file + compressedSuffix + tmpSuffix
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	w := gzip.NewWriter(out)
	if _, err := io.Copy(w, in); err != nil {
		return fmt.Errorf("compress %s: %w", file, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", file, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", file, err)
	}
	if err := os.Rename(tmp, file+compressedSuffix); err != nil {
		return err
	}
	return os.Remove(file)
}

// globEscape escapes the characters filepath.Glob treats specially.
func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}

// runLogMaintenance rotates logs and keeps the log links every
// logRotatePeriod until ctx ends.
func (l *Loop) runLogMaintenance(ctx context.Context) {
	if l.cfg.LogMaxSize <= 0 && l.cfg.LogLinksDir == "" {
		return
	}
	t := time.NewTicker(logRotatePeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if l.cfg.LogMaxSize > 0 {
				l.rotateLogs(ctx)
			}
			l.syncLogLinks()
		}
	}
}

// podLogDir is the log directory of sandbox s's pod, or "" when the names
// it is built from would put it anywhere but right below --pod-logs-dir.
func (l *Loop) podLogDir(m *runtimeapi.PodSandboxMetadata) string {
	root := filepath.Clean(l.cfg.Node.PodLogsDir)
	dir := runtime.PodLogDir(root, m.GetNamespace(), m.GetName(), m.GetUid())
	if err := podfs.Component(filepath.Base(dir)); err != nil || filepath.Dir(dir) != root {
		l.log.Warn("pod log directory outside of --pod-logs-dir; left alone", "pod", m.GetNamespace()+"/"+m.GetName(), "path", dir, "err", err)
		return ""
	}
	return dir
}

// pruneLogs removes the log links of the containers of sandbox s that are
// gone, and, for each container name with one gone, the log files (rotated
// ones included) of every restart count but the newest and the one before,
// which `bosun logs --previous` reads. started holds the restart counts of
// instances just started in s, which s.containers does not list yet. With
// started nil, s itself is gone and a new sandbox continues the counts:
// only the newest files stay, the previous ones of the next instance.
func (l *Loop) pruneLogs(s *observedSandbox, gone map[string]bool, started map[string]uint32) {
	keep := map[string]map[uint32]bool{}
	touched := map[string]bool{}
	for _, c := range s.containers { // newest first
		name := c.name()
		if keep[name] == nil {
			newest := c.restartCount
			if rc, ok := started[name]; ok {
				newest = rc
			}
			keep[name] = map[uint32]bool{newest: true}
			if newest > 0 && started != nil {
				keep[name][newest-1] = true
			}
		}
		if gone[c.c.Id] {
			touched[name] = true
			l.unlinkLog(s.sb.GetMetadata(), name, c.c.Id)
		}
	}
	dir := l.podLogDir(s.sb.GetMetadata())
	if dir == "" {
		return
	}
	for name := range touched {
		if podfs.Component(name) != nil {
			continue
		}
		cdir := filepath.Join(dir, name)
		entries, err := os.ReadDir(cdir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			count, ok := logCount(e.Name())
			if !ok || keep[name][count] {
				continue
			}
			if err := os.Remove(filepath.Join(cdir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				l.log.Warn("remove container log", "pod", runtime.Describe(s.sb.GetMetadata()), "container", name, "file", e.Name(), "err", err)
			}
		}
	}
}

// logCount is the restart count of a container log file name:
// <count>.log, or a rotated <count>.log.<suffix>.
func logCount(name string) (uint32, bool) {
	num, rest, ok := strings.Cut(name, ".log")
	if !ok || (rest != "" && !strings.HasPrefix(rest, ".")) {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 32)
	return uint32(n), err == nil
}

// removePodLogs removes the log directory of the pod of sandbox s and the
// log links of its containers: the pod is gone for good.
func (l *Loop) removePodLogs(s *observedSandbox) {
	for _, c := range s.containers {
		l.unlinkLog(s.sb.GetMetadata(), c.name(), c.c.Id)
	}
	if dir := l.podLogDir(s.sb.GetMetadata()); dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			l.log.Warn("remove pod log directory", "pod", runtime.Describe(s.sb.GetMetadata()), "file", dir, "err", err)
		}
	}
}

// logLink is the kubelet's link to a container's log in the links
// directory: <pod>_<namespace>_<container>-<id>.log, cut to 255 bytes; ""
// when links are off or the name would leave the directory.
func (l *Loop) logLink(m *runtimeapi.PodSandboxMetadata, container, id string) string {
	if l.cfg.LogLinksDir == "" {
		return ""
	}
	name := m.GetName() + "_" + m.GetNamespace() + "_" + container + "-" + id
	if len(name) > maxFileName-len(".log") {
		name = name[:maxFileName-len(".log")]
	}
	name += ".log"
	if podfs.Component(name) != nil {
		return ""
	}
	return filepath.Join(l.cfg.LogLinksDir, name)
}

// linkLog makes the log link of a container, as the kubelet does when it
// creates one; an existing link is left as it is.
func (l *Loop) linkLog(m *runtimeapi.PodSandboxMetadata, container, id, target string) {
	link := l.logLink(m, container, id)
	if link == "" {
		return
	}
	if err := os.MkdirAll(l.cfg.LogLinksDir, 0o755); err != nil {
		l.log.Warn("container log links directory", "file", l.cfg.LogLinksDir, "err", err)
		return
	}
	if err := os.Symlink(target, link); err != nil && !errors.Is(err, fs.ErrExist) {
		l.log.Warn("link container log", "pod", runtime.Describe(m), "container", container, "file", link, "err", err)
	}
}

// unlinkLog removes the log link of a container, if there is one.
func (l *Loop) unlinkLog(m *runtimeapi.PodSandboxMetadata, container, id string) {
	link := l.logLink(m, container, id)
	if link == "" {
		return
	}
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.log.Warn("remove container log link", "pod", runtime.Describe(m), "container", container, "file", link, "err", err)
	}
}

// syncLogLinks makes the missing log links of the containers of the last
// sync (adopted ones, made before the links directory was set) and removes
// links into --pod-logs-dir whose log file is gone, but for those
// containers.
func (l *Loop) syncLogLinks() {
	if l.cfg.LogLinksDir == "" {
		return
	}
	known := map[string]bool{}
	for _, p := range l.Pods() {
		m := &runtimeapi.PodSandboxMetadata{Name: p.Name, Namespace: p.Namespace, Uid: p.UID}
		for _, c := range p.Containers {
			if c.ID == "" || c.LogPath == "" {
				continue
			}
			if link := l.logLink(m, c.Name, c.ID); link != "" {
				known[filepath.Base(link)] = true
				if _, err := os.Lstat(link); errors.Is(err, fs.ErrNotExist) {
					l.linkLog(m, c.Name, c.ID, c.LogPath)
				}
			}
		}
	}
	entries, err := os.ReadDir(l.cfg.LogLinksDir)
	if err != nil {
		return
	}
	logs := filepath.Clean(l.cfg.Node.PodLogsDir) + string(filepath.Separator)
	for _, e := range entries {
		// A known container's log file may not be there yet (the runtime
		// makes it when the container starts).
		if e.Type()&fs.ModeSymlink == 0 || !strings.HasSuffix(e.Name(), ".log") || known[e.Name()] {
			continue
		}
		link := filepath.Join(l.cfg.LogLinksDir, e.Name())
		target, err := os.Readlink(link)
		if err != nil || !strings.HasPrefix(target, logs) {
			continue
		}
		if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
			if err := os.Remove(link); err == nil {
				l.log.Debug("stale container log link removed", "file", link)
			}
		}
	}
}
