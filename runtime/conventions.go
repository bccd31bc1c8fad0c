package runtime

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
)

// IsSidecar reports whether an init container is a sidecar: one with
// restartPolicy Always, which keeps running beside the app containers.
func IsSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// MapsHostPorts reports whether the runtime maps host ports for pod
// through the pod network: a pod outside the host network whose sandbox
// config has port mappings.
func MapsHostPorts(pod *corev1.Pod) bool {
	return !pod.Spec.HostNetwork && len(portMappings(pod)) > 0
}

// GracePeriod is the pod's terminationGracePeriodSeconds, 30 when unset.
func GracePeriod(pod *corev1.Pod) int64 {
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return *g
	}
	return manifest.DefaultTerminationGracePeriod
}

// KindOf is what container name is to pod: init, sidecar, or app.
func KindOf(pod *corev1.Pod, name string) Kind {
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; c.Name == name {
			if IsSidecar(c) {
				return KindSidecar
			}
			return KindInit
		}
	}
	return KindApp
}
