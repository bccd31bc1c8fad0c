package manifest

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// notYet is the reason given for Pod fields bosun does not run yet: they are
// refused by name rather than silently ignored.
const notYet = "not supported by bosun yet"

type field struct {
	name string
	set  bool
}

// validateUnsupported refuses every set field that bosun would otherwise
// ignore. Fields that have no effect without a cluster (priorityClassName,
// tolerations, nodeSelector, affinity, schedulerName, schedulingGates,
// topologySpreadConstraints) are accepted.
func validateUnsupported(p *problems, pod *corev1.Pod) {
	s := &pod.Spec
	for _, f := range []field{
		{"spec.hostUsers", s.HostUsers != nil},
		{"spec.overhead", len(s.Overhead) > 0},
		{"spec.readinessGates", len(s.ReadinessGates) > 0},
		{"spec.resources", s.Resources != nil},
		{"spec.securityContext.seLinuxOptions", s.SecurityContext != nil && s.SecurityContext.SELinuxOptions != nil},
		{"spec.securityContext.windowsOptions", s.SecurityContext != nil && s.SecurityContext.WindowsOptions != nil},
		{"spec.securityContext.fsGroupChangePolicy", s.SecurityContext != nil && s.SecurityContext.FSGroupChangePolicy != nil},
		{"spec.securityContext.supplementalGroupsPolicy", s.SecurityContext != nil && s.SecurityContext.SupplementalGroupsPolicy != nil},
		{"spec.securityContext.seLinuxChangePolicy", s.SecurityContext != nil && s.SecurityContext.SELinuxChangePolicy != nil},
	} {
		if f.set {
			p.add(f.name, notYet)
		}
	}
	if s.OS != nil && s.OS.Name != corev1.Linux {
		p.add("spec.os.name", "%q: bosun runs Linux pods only", s.OS.Name)
	}
	for i, v := range s.Volumes {
		f := fmt.Sprintf("spec.volumes[%d]", i)
		if v.HostPath == nil && v.EmptyDir == nil && v.DownwardAPI == nil && !staticForbidden(&v.VolumeSource) {
			p.add(f, "volume %q: only hostPath, emptyDir and downwardAPI volumes are supported by bosun", v.Name)
		}
	}
	for _, list := range containerLists(s) {
		for i := range list.cs {
			c := &list.cs[i]
			f := fmt.Sprintf("%s[%d]", list.path, i)
			for _, cf := range []field{
				{".volumeDevices", len(c.VolumeDevices) > 0},
				{".envFrom", len(c.EnvFrom) > 0 && !envFromForbidden(c.EnvFrom)},
				{".securityContext.seLinuxOptions", c.SecurityContext != nil && c.SecurityContext.SELinuxOptions != nil},
				{".securityContext.windowsOptions", c.SecurityContext != nil && c.SecurityContext.WindowsOptions != nil},
				{".lifecycle.stopSignal", c.Lifecycle != nil && c.Lifecycle.StopSignal != nil},
			} {
				if cf.set {
					p.add(f+cf.name, notYet)
				}
			}
			for j, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.FileKeyRef != nil {
					p.add(fmt.Sprintf("%s.env[%d].valueFrom.fileKeyRef", f, j), notYet)
				}
			}
		}
	}
}

// containerList is one list of containers of a pod spec and its field path.
type containerList struct {
	path string
	cs   []corev1.Container
}

// containerLists are the container lists that rules about containers apply
// to. Ephemeral containers are refused as a whole.
func containerLists(s *corev1.PodSpec) []containerList {
	return []containerList{{"spec.initContainers", s.InitContainers}, {"spec.containers", s.Containers}}
}

// staticForbidden reports whether a volume source is one that static pods
// may not use (reported by validateStaticRestrictions).
func staticForbidden(v *corev1.VolumeSource) bool {
	return v.Secret != nil || v.ConfigMap != nil || v.PersistentVolumeClaim != nil || v.CSI != nil || v.Ephemeral != nil || v.Projected != nil
}

func envFromForbidden(from []corev1.EnvFromSource) bool {
	for _, e := range from {
		if e.SecretRef == nil && e.ConfigMapRef == nil {
			return false
		}
	}
	return true
}
