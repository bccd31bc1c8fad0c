package manifest

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Defaults applied by SetDefaults. They feed the spec hash: changing one, or
// adding a default for a field that was already accepted, changes the hash
// of existing manifests and so restarts their pods on upgrade. The golden
// test in hash_test.go guards this.
const (
	DefaultNamespace                 = "default"
	DefaultTerminationGracePeriod    = int64(30)
	DefaultTerminationMessagePath    = "/dev/termination-log"
	defaultProbeTimeoutSeconds       = 1
	defaultProbePeriodSeconds        = 10
	defaultProbeSuccessThreshold     = 1
	defaultProbeFailureThreshold     = 3
	defaultFieldRefAPIVersion        = "v1"
	defaultHostPathType              = corev1.HostPathUnset
	defaultContainerPortProtocol     = corev1.ProtocolTCP
	defaultTerminationMessagePolicy  = corev1.TerminationMessageReadFile
	defaultPodRestartPolicy          = corev1.RestartPolicyAlways
	defaultPodDNSPolicy              = corev1.DNSClusterFirst
	defaultPodEnableServiceLinks     = true
	defaultHTTPGetScheme             = corev1.URISchemeHTTP
	defaultEmptyDirMedium            = corev1.StorageMediumDefault
	defaultDownwardAPIVolumeFileMode = int32(0o644)
)

// SetDefaults fills the fields the API server would default, so that a
// manifest that spells a default out and one that leaves it away are the same
// Pod (and have the same hash).
func SetDefaults(pod *corev1.Pod) {
	if pod.Namespace == "" {
		pod.Namespace = DefaultNamespace
	}
	s := &pod.Spec
	if s.RestartPolicy == "" {
		s.RestartPolicy = defaultPodRestartPolicy
	}
	if s.TerminationGracePeriodSeconds == nil {
		g := DefaultTerminationGracePeriod
		s.TerminationGracePeriodSeconds = &g
	}
	if s.DNSPolicy == "" {
		s.DNSPolicy = defaultPodDNSPolicy
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &corev1.PodSecurityContext{}
	}
	if s.EnableServiceLinks == nil {
		v := defaultPodEnableServiceLinks
		s.EnableServiceLinks = &v
	}
	for i := range s.InitContainers {
		defaultContainer(&s.InitContainers[i])
	}
	for i := range s.Containers {
		defaultContainer(&s.Containers[i])
	}
	for i := range s.Volumes {
		v := &s.Volumes[i].VolumeSource
		if v.HostPath != nil && v.HostPath.Type == nil {
			t := defaultHostPathType
			v.HostPath.Type = &t
		}
		if v.EmptyDir != nil && v.EmptyDir.Medium == "" {
			v.EmptyDir.Medium = defaultEmptyDirMedium
		}
		if v.DownwardAPI != nil && v.DownwardAPI.DefaultMode == nil {
			m := defaultDownwardAPIVolumeFileMode
			v.DownwardAPI.DefaultMode = &m
		}
	}
}

func defaultContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = defaultPullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = DefaultTerminationMessagePath
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = defaultTerminationMessagePolicy
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = defaultContainerPortProtocol
		}
	}
	for i := range c.Env {
		if f := c.Env[i].ValueFrom; f != nil && f.FieldRef != nil && f.FieldRef.APIVersion == "" {
			f.FieldRef.APIVersion = defaultFieldRefAPIVersion
		}
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		defaultProbe(p)
	}
}

func defaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = defaultProbeTimeoutSeconds
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = defaultProbePeriodSeconds
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = defaultProbeSuccessThreshold
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = defaultProbeFailureThreshold
	}
	if p.HTTPGet != nil && p.HTTPGet.Scheme == "" {
		p.HTTPGet.Scheme = defaultHTTPGetScheme
	}
}

// defaultPullPolicy is Always for an image without a tag or with the tag
// "latest" (and no digest), IfNotPresent otherwise, as the API server does.
func defaultPullPolicy(image string) corev1.PullPolicy {
	if strings.Contains(image, "@") {
		return corev1.PullIfNotPresent
	}
	name := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(name, ":")
	if i < 0 || name[i+1:] == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}
