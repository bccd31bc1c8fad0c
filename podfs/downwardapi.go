package podfs

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
)

// dataLink is the link that names a downwardAPI volume's current data
// directory, as the kubelet's atomic writer names it.
const (
	dataLink    = "..data"
	dataLinkTmp = "..data_tmp"
)

// writers serializes the writers of downwardAPI volumes and /etc/hosts
// files: two containers of one pod may start at once, and one must not
// remove the data directory that the other has just made current.
var writers sync.Mutex

// file is one file of a downwardAPI volume.
type file struct {
	data []byte
	mode os.FileMode
}

// downwardAPIFiles computes the files of a downwardAPI volume by path.
func (f *FS) downwardAPIFiles(sp *manifest.StaticPod, c *corev1.Container, v *corev1.Volume, podIP string) map[string]file {
	files := map[string]file{}
	for _, item := range v.DownwardAPI.Items {
		var value string
		switch {
		case item.FieldRef != nil:
			value = runtime.FieldValue(sp, item.FieldRef.FieldPath, f.Node, podIP)
		case item.ResourceFieldRef != nil:
			target := c
			for i := range sp.Pod.Spec.Containers {
				if sp.Pod.Spec.Containers[i].Name == item.ResourceFieldRef.ContainerName {
					target = &sp.Pod.Spec.Containers[i]
				}
			}
			value = runtime.ResourceValue(target, item.ResourceFieldRef, f.Node)
		}
		mode := os.FileMode(0o644)
		if item.Mode != nil {
			mode = os.FileMode(*item.Mode)
		} else if v.DownwardAPI.DefaultMode != nil {
			mode = os.FileMode(*v.DownwardAPI.DefaultMode)
		}
		files[item.Path] = file{data: []byte(value), mode: mode.Perm()}
	}
	return files
}

// writeDownwardAPI writes a downwardAPI volume the kubelet's atomic-writer
// way and returns its host path. The files go into a new hidden data
// directory (..<time>.<random>), the link ..data is swapped to it by rename,
// and each top-level name is a link into ..data; the previous data directory
// is removed. Nothing is written when ..data already holds files. Every
// operation runs below an os.Root of the volume, creates with O_EXCL and
// never writes or chmods through an existing name, so a link planted in the
// volume (by a container that still has it mounted read-write from an older
// bosun) is replaced, never followed.
func writeDownwardAPI(pod *podRoot, name string, files map[string]file) (string, error) {
	rel, err := volumeDir("downward-api", name)
	if err != nil {
		return "", err
	}
	tops := map[string]bool{}
	for p := range files {
		if err := checkRel(p); err != nil {
			return "", fmt.Errorf("item %w", err)
		}
		top, _, _ := strings.Cut(filepath.Clean(p), "/")
		if strings.HasPrefix(top, "..") {
			return "", fmt.Errorf("item path %q: may not start with '..' (reserved)", p)
		}
		tops[top] = true
	}
	writers.Lock()
	defer writers.Unlock()
	if err := pod.root.MkdirAll(rel, 0o755); err != nil {
		return "", err
	}
	vol, err := pod.root.OpenRoot(rel)
	if err != nil {
		return "", err
	}
	defer vol.Close()
	current, _ := vol.Readlink(dataLink)
	if !isDataDir(current) || !holds(vol, current, files) {
		if current, err = writeDataDir(vol, files); err != nil {
			return "", err
		}
	}
	for top := range tops {
		want := dataLink + "/" + top
		if got, err := vol.Readlink(top); err == nil && got == want {
			continue
		}
		if err := removeIn(vol, pod.path(rel), top); err != nil {
			return "", fmt.Errorf("replace %s: %w", top, err)
		}
		if err := vol.Symlink(want, top); err != nil {
			return "", err
		}
	}
	return pod.path(rel), removeOldDataDirs(vol, current)
}

// isDataDir reports whether name can be a data directory of the writer.
func isDataDir(name string) bool {
	return strings.HasPrefix(name, "..") && name != dataLink && name != dataLinkTmp && !strings.ContainsRune(name, '/') && name != ".."
}

// holds reports whether the data directory dir holds exactly files: each a
// regular file (not a link) with that content and mode.
func holds(vol *os.Root, dir string, files map[string]file) bool {
	for p, want := range files {
		fi, err := vol.Lstat(filepath.Join(dir, p))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != want.mode {
			return false
		}
		got, err := vol.ReadFile(filepath.Join(dir, p))
		if err != nil || !bytes.Equal(got, want.data) {
			return false
		}
	}
	return true
}

// writeDataDir writes files into a new data directory and swaps ..data to
// it; it returns the directory's name.
func writeDataDir(vol *os.Root, files map[string]file) (string, error) {
	dir := time.Now().UTC().Format("..2006_01_02_15_04_05.") + strings.ToLower(rand.Text()[:10])
	if err := vol.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(dir, p)
		if err := vol.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", err
		}
		fh, err := vol.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, files[p].mode)
		if err != nil {
			return "", err
		}
		_, err = fh.Write(files[p].data)
		err = errors.Join(err, fh.Chmod(files[p].mode), fh.Close())
		if err != nil {
			return "", fmt.Errorf("write %s: %w", p, err)
		}
	}
	if err := vol.Remove(dataLinkTmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := vol.Symlink(dir, dataLinkTmp); err != nil {
		return "", err
	}
	if err := vol.Rename(dataLinkTmp, dataLink); err != nil {
		return "", fmt.Errorf("swap %s: %w", dataLink, err)
	}
	return dir, nil
}

// removeOldDataDirs removes every data directory but keep.
func removeOldDataDirs(vol *os.Root, keep string) error {
	d, err := vol.Open(".")
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if isDataDir(n) && n != keep {
			errs = append(errs, removeIn(vol, "", n))
		}
	}
	return errors.Join(errs...)
}
