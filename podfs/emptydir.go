package podfs

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
)

// prepareEmptyDir makes an emptyDir volume: a directory below the pod's
// directory, or a tmpfs of sizeLimit for medium Memory. The container owns
// what is inside; bosun only sets the directory's own mode and group.
func prepareEmptyDir(pod *podRoot, sp *manifest.StaticPod, v *corev1.Volume) (string, error) {
	rel, err := volumeDir("empty-dir", v.Name)
	if err != nil {
		return "", err
	}
	if err := pod.root.MkdirAll(rel, 0o777); err != nil {
		return "", err
	}
	dir := pod.path(rel)
	mounted, err := pod.mounted(rel)
	if err != nil {
		return "", err
	}
	if v.EmptyDir.Medium == corev1.StorageMediumMemory && !mounted {
		opts := "mode=0777"
		if s := v.EmptyDir.SizeLimit; s != nil && s.Value() > 0 {
			opts += ",size=" + strconv.FormatInt(s.Value(), 10)
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return "", fmt.Errorf("mount tmpfs on %s: %w", dir, err)
		}
	}
	mode := os.FileMode(0o777)
	if g := sp.Pod.Spec.SecurityContext; g != nil && g.FSGroup != nil {
		if err := pod.root.Chown(rel, -1, int(*g.FSGroup)); err != nil {
			return "", err
		}
		mode |= os.ModeSetgid
	}
	return dir, pod.root.Chmod(rel, mode)
}
