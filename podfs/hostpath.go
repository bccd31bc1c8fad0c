package podfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// checkHostPath applies a hostPath volume's type: the *OrCreate types create
// what is missing (directories 0755, files 0644), the others must exist as
// that kind of file.
func checkHostPath(h *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	fi, err := os.Stat(h.Path)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return fmt.Errorf("hostPath %s: %w", h.Path, err)
	}
	want := func(ok bool, kind string) error {
		if missing {
			return fmt.Errorf("hostPath %s: does not exist (type %s)", h.Path, t)
		}
		if !ok {
			return fmt.Errorf("hostPath %s: is not a %s (type %s)", h.Path, kind, t)
		}
		return nil
	}
	switch t {
	case corev1.HostPathDirectoryOrCreate:
		if missing {
			if err := os.MkdirAll(h.Path, 0o755); err != nil {
				return fmt.Errorf("hostPath %s: %w", h.Path, err)
			}
			return nil
		}
		return want(fi.IsDir(), "directory")
	case corev1.HostPathFileOrCreate:
		if missing {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return fmt.Errorf("hostPath %s: %w", h.Path, err)
			}
			f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("hostPath %s: %w", h.Path, err)
			}
			if f != nil {
				f.Close()
			}
			return nil
		}
		return want(fi.Mode().IsRegular(), "file")
	case corev1.HostPathDirectory:
		return want(!missing && fi.IsDir(), "directory")
	case corev1.HostPathFile:
		return want(!missing && fi.Mode().IsRegular(), "file")
	case corev1.HostPathSocket:
		return want(!missing && fi.Mode()&fs.ModeSocket != 0, "socket")
	case corev1.HostPathCharDev:
		return want(!missing && fi.Mode()&fs.ModeCharDevice != 0, "character device")
	case corev1.HostPathBlockDev:
		return want(!missing && fi.Mode()&fs.ModeDevice != 0 && fi.Mode()&fs.ModeCharDevice == 0, "block device")
	}
	return nil
}
