package podfs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
)

// PrepareMounts makes everything a container mounts exist on disk and
// returns its mounts: volumes (downwardAPI always read-only, subPaths as
// bind mounts bosun owns), the termination message file and, for pods on
// the pod network (or with hostAliases), a managed /etc/hosts.
func (f *FS) PrepareMounts(sp *manifest.StaticPod, c *corev1.Container, restartCount uint32, podIP string) ([]*runtimeapi.Mount, error) {
	pod, err := f.openPod(sp.UID)
	if err != nil {
		return nil, err
	}
	defer pod.Close()
	vols := map[string]*corev1.Volume{}
	for i := range sp.Pod.Spec.Volumes {
		vols[sp.Pod.Spec.Volumes[i].Name] = &sp.Pod.Spec.Volumes[i]
	}
	var mounts []*runtimeapi.Mount
	covered := map[string]bool{}
	for i, vm := range c.VolumeMounts {
		v := vols[vm.Name]
		if v == nil {
			return nil, fmt.Errorf("volumeMount %s: no volume of that name", vm.Name)
		}
		host, err := f.prepareVolume(pod, sp, c, v, podIP)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if sub := vm.SubPath; sub != "" || vm.SubPathExpr != "" {
			if vm.SubPathExpr != "" {
				sub = runtime.Expand(vm.SubPathExpr, runtime.EnvVars(sp, c, f.Node, podIP))
			}
			if host, err = bindSubPath(pod, host, subPathTarget{volume: v.Name, container: c.Name, index: i}, sub); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		}
		mounts = append(mounts, &runtimeapi.Mount{
			ContainerPath: vm.MountPath,
			HostPath:      host,
			Readonly:      vm.ReadOnly || v.DownwardAPI != nil,
			Propagation:   propagation(vm.MountPropagation),
		})
		covered[filepath.Clean(vm.MountPath)] = true
	}
	if p := c.TerminationMessagePath; p != "" && !covered[filepath.Clean(p)] {
		file, err := createTerminationFile(pod, c.Name, restartCount)
		if err != nil {
			return nil, fmt.Errorf("termination message file: %w", err)
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: p, HostPath: file})
	}
	if !covered["/etc/hosts"] && (!sp.Pod.Spec.HostNetwork || len(sp.Pod.Spec.HostAliases) > 0) {
		hostname, domain := runtime.PodHostnameAndDomain(sp, f.Node.ClusterDomain)
		file, err := writeHosts(pod, hostsFile(sp.Pod, hostname, domain, podIP))
		if err != nil {
			return nil, fmt.Errorf("/etc/hosts: %w", err)
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: file})
	}
	return mounts, nil
}

func propagation(p *corev1.MountPropagationMode) runtimeapi.MountPropagation {
	if p == nil {
		return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
	}
	switch *p {
	case corev1.MountPropagationHostToContainer:
		return runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
	case corev1.MountPropagationBidirectional:
		return runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
	}
	return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
}

// prepareVolume checks or creates one volume and returns its host path.
func (f *FS) prepareVolume(pod *podRoot, sp *manifest.StaticPod, c *corev1.Container, v *corev1.Volume, podIP string) (string, error) {
	switch {
	case v.HostPath != nil:
		return v.HostPath.Path, checkHostPath(v.HostPath)
	case v.EmptyDir != nil:
		return prepareEmptyDir(pod, sp, v)
	case v.DownwardAPI != nil:
		return writeDownwardAPI(pod, v.Name, f.downwardAPIFiles(sp, c, v, podIP))
	}
	return "", errors.New("unsupported volume type")
}

// volumeDir is a volume's directory below the pod directory.
func volumeDir(kind, name string) (string, error) {
	if err := Component(name); err != nil {
		return "", fmt.Errorf("volume name: %w", err)
	}
	return Join("volumes", kind, name)
}

// containerFile is a per-container file below the pod directory:
// containers/<name>/<restartCount><suffix>.
func containerFile(name string, restartCount uint32, suffix string) (dir, file string, err error) {
	if err := Component(name); err != nil {
		return "", "", fmt.Errorf("container name: %w", err)
	}
	return filepath.Join("containers", name), strconv.FormatUint(uint64(restartCount), 10) + suffix, nil
}
