package podfs

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The kubelet's names of rotated logs: <log>.<timestamp>, gzipped to
// <log>.<timestamp>.gz (all but the newest), through <...>.tmp.
const (
	rotatedTimeFormat = "20060102-150405"
	compressedSuffix  = ".gz"
	tmpSuffix         = ".tmp"
)

// RotateLog rotates a container log as the kubelet does: it makes room for
// one more rotated file (removing the oldest ones, then compressing the
// rest), renames log to <log>.<now> and calls reopen, which has the runtime
// reopen the log; maxFiles files are kept in all, the current one included.
// When reopen fails, the rename is undone. A log rotated less than a second
// ago is left for next time.
func RotateLog(log string, maxFiles int, now time.Time, reopen func() error) error {
	rotated, err := rotatedLogs(log, true)
	if err != nil {
		return err
	}
	// After the rotation there are the current file, the newest rotated
	// one (not compressed) and at most LogMaxFiles-2 compressed ones.
	keep := max(maxFiles-2, 0)
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
	target := log + "." + now.Format(rotatedTimeFormat)
	if _, err := os.Lstat(target); err == nil {
		return nil // rotated less than a second ago: next time
	}
	if err := os.Rename(log, target); err != nil {
		return err
	}
	if err := reopen(); err != nil {
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
