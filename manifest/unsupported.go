package manifest

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
)

// notYet is the reason given for Pod fields bosun does not run yet: they are
// refused by name rather than silently ignored.
const notYet = "not supported by bosun yet"

// validateUnsupported refuses every set field that bosun would otherwise
// ignore. Fields that have no effect without a cluster (priorityClassName,
// tolerations, nodeSelector, affinity, schedulerName, ...) are accepted.
func validateUnsupported(p *problems, pod *corev1.Pod) {
	s := &pod.Spec
	podFields := []field{
		{"spec.initContainers", len(s.InitContainers) > 0},
		{"spec.volumes", len(s.Volumes) > 0},
		{"spec.hostPID", s.HostPID},
		{"spec.hostIPC", s.HostIPC},
		{"spec.shareProcessNamespace", s.ShareProcessNamespace != nil && *s.ShareProcessNamespace},
		{"spec.hostAliases", len(s.HostAliases) > 0},
		{"spec.dnsConfig", s.DNSConfig != nil},
		{"spec.activeDeadlineSeconds", s.ActiveDeadlineSeconds != nil},
		{"spec.runtimeClassName", s.RuntimeClassName != nil},
		{"spec.hostUsers", s.HostUsers != nil},
		{"spec.os", s.OS != nil},
		{"spec.overhead", len(s.Overhead) > 0},
		{"spec.readinessGates", len(s.ReadinessGates) > 0},
		{"spec.schedulingGates", len(s.SchedulingGates) > 0},
		{"spec.resources", s.Resources != nil},
		{"spec.securityContext", s.SecurityContext != nil && !reflect.ValueOf(*s.SecurityContext).IsZero()},
	}
	for _, f := range podFields {
		if f.set {
			p.add(f.name, notYet)
		}
	}
	for i := range s.Containers {
		c := &s.Containers[i]
		f := fmt.Sprintf("spec.containers[%d]", i)
		cf := []field{
			{".volumeMounts", len(c.VolumeMounts) > 0},
			{".volumeDevices", len(c.VolumeDevices) > 0},
			{".livenessProbe", c.LivenessProbe != nil},
			{".readinessProbe", c.ReadinessProbe != nil},
			{".startupProbe", c.StartupProbe != nil},
			{".lifecycle", c.Lifecycle != nil},
			{".securityContext", c.SecurityContext != nil && !reflect.ValueOf(*c.SecurityContext).IsZero()},
			{".envFrom", len(c.EnvFrom) > 0},
			{".resizePolicy", len(c.ResizePolicy) > 0},
			{".stdin", c.Stdin},
			{".stdinOnce", c.StdinOnce},
			{".tty", c.TTY},
		}
		for _, k := range cf {
			if k.set {
				p.add(f+k.name, notYet)
			}
		}
		for j, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef == nil && e.ValueFrom.ConfigMapKeyRef == nil {
				p.add(fmt.Sprintf("%s.env[%d].valueFrom", f, j), notYet)
			}
		}
	}
}

type field struct {
	name string
	set  bool
}
