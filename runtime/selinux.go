package runtime

import (
	"bytes"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// selinuxMagic is the file system magic of selinuxfs.
const selinuxMagic = 0xf97cff8c

// SELinuxEnabled reports whether the host runs SELinux, as the kubelet asks
// (opencontainers/selinux GetEnabled): selinuxfs is mounted at
// /sys/fs/selinux and bosun's own label is not "kernel".
func SELinuxEnabled() bool {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/selinux", &st); err != nil || uint32(st.Type) != selinuxMagic {
		return false
	}
	f, err := os.Open("/proc/thread-self/attr/current")
	if err != nil {
		return false
	}
	defer f.Close()
	label, err := io.ReadAll(io.LimitReader(f, 4096))
	label = bytes.TrimRight(label, "\x00\n")
	return err == nil && len(label) > 0 && string(label) != "kernel"
}

// relabelMounts is mounts with SelinuxRelabel set where the kubelet sets
// it: on an SELinux host, for the volumes its plugins relabel (emptyDir and
// downwardAPI here; never hostPath, whose plugin does not) and for the files
// it makes itself (the termination message file, /etc/hosts). The pod's own
// seLinuxOptions do not enter into it (bosun refuses them), as the kubelet's
// makeMounts does not look at them either; the runtime relabels with the
// container's label. mounts are copied, never changed.
func relabelMounts(pod *corev1.Pod, c *corev1.Container, mounts []*runtimeapi.Mount, selinux bool) []*runtimeapi.Mount {
	if !selinux || len(mounts) == 0 {
		return mounts
	}
	volumes := map[string]*corev1.Volume{}
	for i := range pod.Spec.Volumes {
		volumes[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	byPath := map[string]*corev1.Volume{}
	for _, vm := range c.VolumeMounts {
		byPath[filepath.Clean(vm.MountPath)] = volumes[vm.Name]
	}
	out := make([]*runtimeapi.Mount, len(mounts))
	for i, m := range mounts {
		out[i] = proto.Clone(m).(*runtimeapi.Mount)
		v, fromVolume := byPath[filepath.Clean(m.GetContainerPath())]
		out[i].SelinuxRelabel = !fromVolume || relabelsVolume(v)
	}
	return out
}

// relabelsVolume reports whether the kubelet's plugin of v asks for a
// relabel (its Attributes' SELinuxRelabel).
func relabelsVolume(v *corev1.Volume) bool {
	return v != nil && (v.EmptyDir != nil || v.DownwardAPI != nil || v.Projected != nil || v.ConfigMap != nil || v.Secret != nil)
}
