package manifest

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

type problems []error

// uuidForm is a UUID in its canonical text form, in either case. With a
// DNS-1123 label it is what the API server takes for a UID set by hand, and
// neither can hold a '/' or be "..", so a UID is safe as a path component.
var uuidForm = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks a defaulted pod for node and reports every problem at once
// (errors.Join of *FieldError), nil when the pod can run.
func Validate(pod *corev1.Pod, node string) error {
	var p problems
	validateMeta(&p, pod, node)
	validateStaticRestrictions(&p, pod)
	validateUnsupported(&p, pod)
	s := &pod.Spec
	if len(s.Containers) == 0 {
		p.add("spec.containers", "required: a pod needs at least one container")
	}
	switch s.RestartPolicy {
	case corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
	default:
		p.add("spec.restartPolicy", "unsupported value %q: must be Always, OnFailure or Never", s.RestartPolicy)
	}
	if rc := s.RuntimeClassName; rc != nil {
		// bosun has no RuntimeClass objects: the name is the CRI runtime
		// handler. Validated as the API server validates the name.
		for _, msg := range validation.IsDNS1123Subdomain(*rc) {
			p.add("spec.runtimeClassName", "%q: %s", *rc, msg)
		}
	}
	if d := s.ActiveDeadlineSeconds; d != nil && *d < 1 {
		p.add("spec.activeDeadlineSeconds", "must be >= 1, not %d", *d)
	}
	if g := s.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		p.add("spec.terminationGracePeriodSeconds", "must be >= 0, not %d", *g)
	}
	switch s.DNSPolicy {
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet, corev1.DNSDefault:
	case corev1.DNSNone:
		if s.DNSConfig == nil || len(s.DNSConfig.Nameservers) == 0 {
			p.add("spec.dnsConfig.nameservers", "required with dnsPolicy None")
		}
	default:
		p.add("spec.dnsPolicy", "unsupported value %q: must be ClusterFirst, ClusterFirstWithHostNet, Default or None", s.DNSPolicy)
	}
	grace := DefaultTerminationGracePeriod
	if g := s.TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	names := map[string]string{}
	hostPorts := map[string]string{}
	volumes := validateVolumes(&p, pod)
	for i := range s.InitContainers {
		f := fmt.Sprintf("spec.initContainers[%d]", i)
		c := &s.InitContainers[i]
		validateContainer(&p, f, c, grace, names, hostPorts, volumes)
		if c.RestartPolicy != nil && *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			p.add(f+".restartPolicy", "%q: only Always (a sidecar) is allowed", *c.RestartPolicy)
		}
		if c.RestartPolicy == nil {
			for _, pf := range []field{{".livenessProbe", c.LivenessProbe != nil}, {".readinessProbe", c.ReadinessProbe != nil},
				{".startupProbe", c.StartupProbe != nil}, {".lifecycle", c.Lifecycle != nil}} {
				if pf.set {
					p.add(f+pf.name, "only sidecars (restartPolicy: Always) may have it: an init container runs to completion")
				}
			}
		}
	}
	for i := range s.Containers {
		f := fmt.Sprintf("spec.containers[%d]", i)
		validateContainer(&p, f, &s.Containers[i], grace, names, hostPorts, volumes)
		if s.Containers[i].RestartPolicy != nil {
			p.add(f+".restartPolicy", "only allowed on init containers (sidecars)")
		}
	}
	validateSecurity(&p, pod)
	validateExpansion(&p, pod, node)
	return errors.Join(p...)
}

func validateMeta(p *problems, pod *corev1.Pod, node string) {
	if pod.Name == "" {
		p.add("metadata.name", "required")
	} else {
		full := PodName(pod.Name, node)
		for _, msg := range validation.IsDNS1123Subdomain(full) {
			p.add("metadata.name", "%q with the node suffix is %q: %s", pod.Name, full, msg)
		}
	}
	if pod.GenerateName != "" {
		p.add("metadata.generateName", "not allowed in a static pod: set metadata.name")
	}
	for _, msg := range validation.IsDNS1123Label(pod.Namespace) {
		p.add("metadata.namespace", "%q: %s", pod.Namespace, msg)
	}
	if uid := string(pod.UID); uid != "" && !uuidForm.MatchString(uid) {
		for _, msg := range validation.IsDNS1123Label(uid) {
			p.add("metadata.uid", "%q: must be a UUID or a DNS-1123 label (it names the pod's directories): %s", uid, msg)
		}
	}
	for k, v := range pod.Labels {
		for _, msg := range validation.IsQualifiedName(k) {
			p.add("metadata.labels", "key %q: %s", k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			p.add("metadata.labels["+k+"]", "value %q: %s", v, msg)
		}
	}
	for k := range pod.Annotations {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(k)) {
			p.add("metadata.annotations", "key %q: %s", k, msg)
		}
	}
}

// validateStaticRestrictions enforces what the kubelet forbids in static
// pods: they run before (or without) an API server, so nothing may refer to
// API objects.
func validateStaticRestrictions(p *problems, pod *corev1.Pod) {
	s := &pod.Spec
	const why = "static pods cannot refer to API objects"
	if s.ServiceAccountName != "" || s.DeprecatedServiceAccount != "" {
		p.add("spec.serviceAccountName", "not allowed: %s", why)
	}
	if len(s.ImagePullSecrets) > 0 {
		p.add("spec.imagePullSecrets", "not allowed: %s", why)
	}
	if len(s.EphemeralContainers) > 0 {
		p.add("spec.ephemeralContainers", "not allowed in a static pod")
	}
	if len(s.ResourceClaims) > 0 {
		p.add("spec.resourceClaims", "not allowed: %s", why)
	}
	for i, v := range s.Volumes {
		f := fmt.Sprintf("spec.volumes[%d]", i)
		switch {
		case v.Secret != nil:
			p.add(f+".secret", "not allowed: %s", why)
		case v.ConfigMap != nil:
			p.add(f+".configMap", "not allowed: %s", why)
		case v.PersistentVolumeClaim != nil:
			p.add(f+".persistentVolumeClaim", "not allowed: %s", why)
		case v.CSI != nil:
			p.add(f+".csi", "not allowed: %s", why)
		case v.Ephemeral != nil:
			p.add(f+".ephemeral", "not allowed: %s", why)
		case v.Projected != nil:
			p.add(f+".projected", "not allowed: %s", why)
		}
	}
	for _, list := range containerLists(s) {
		for i := range list.cs {
			c := &list.cs[i]
			f := fmt.Sprintf("%s[%d]", list.path, i)
			for j, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					p.add(fmt.Sprintf("%s.env[%d].valueFrom.secretKeyRef", f, j), "not allowed: %s", why)
				}
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					p.add(fmt.Sprintf("%s.env[%d].valueFrom.configMapKeyRef", f, j), "not allowed: %s", why)
				}
			}
			for j, e := range c.EnvFrom {
				if e.SecretRef != nil || e.ConfigMapRef != nil {
					p.add(fmt.Sprintf("%s.envFrom[%d]", f, j), "not allowed: %s", why)
				}
			}
		}
	}
}

// validateContainer checks container c at field path f; grace is the pod's
// terminationGracePeriodSeconds, the most a sleep hook may take.
func validateContainer(p *problems, f string, c *corev1.Container, grace int64, names, hostPorts map[string]string, volumes map[string]bool) {
	if c.Name == "" {
		p.add(f+".name", "required")
	} else {
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			p.add(f+".name", "%q: %s", c.Name, msg)
		}
		if prev, ok := names[c.Name]; ok {
			p.add(f+".name", "%q is already used by %s", c.Name, prev)
		}
		names[c.Name] = f
	}
	if strings.TrimSpace(c.Image) == "" {
		p.add(f+".image", "required")
	} else if c.Image != strings.TrimSpace(c.Image) {
		p.add(f+".image", "%q has leading or trailing spaces", c.Image)
	}
	switch c.ImagePullPolicy {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		p.add(f+".imagePullPolicy", "unsupported value %q: must be Always, IfNotPresent or Never", c.ImagePullPolicy)
	}
	switch c.TerminationMessagePolicy {
	case corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError:
	default:
		p.add(f+".terminationMessagePolicy", "unsupported value %q", c.TerminationMessagePolicy)
	}
	for j, port := range c.Ports {
		pf := fmt.Sprintf("%s.ports[%d]", f, j)
		if port.ContainerPort < 1 || port.ContainerPort > 65535 {
			p.add(pf+".containerPort", "%d is out of range 1-65535", port.ContainerPort)
		}
		if port.HostPort < 0 || port.HostPort > 65535 {
			p.add(pf+".hostPort", "%d is out of range 0-65535", port.HostPort)
		}
		switch port.Protocol {
		case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			p.add(pf+".protocol", "unsupported value %q: must be TCP, UDP or SCTP", port.Protocol)
		}
		if port.Name != "" {
			for _, msg := range validation.IsValidPortName(port.Name) {
				p.add(pf+".name", "%q: %s", port.Name, msg)
			}
		}
		if port.HostPort > 0 {
			k := fmt.Sprintf("%s/%s/%d", port.HostIP, port.Protocol, port.HostPort)
			if prev, ok := hostPorts[k]; ok {
				p.add(pf+".hostPort", "%d/%s is already used by %s", port.HostPort, port.Protocol, prev)
			}
			hostPorts[k] = pf
		}
	}
	for j, e := range c.Env {
		ef := fmt.Sprintf("%s.env[%d]", f, j)
		if e.Name == "" {
			p.add(ef+".name", "required")
		}
		if e.ValueFrom != nil {
			validateEnvSource(p, ef+".valueFrom", e.Value, e.ValueFrom)
		}
	}
	validateResources(p, f+".resources", c.Resources)
	validateMounts(p, f, c, volumes)
	for _, pr := range []struct {
		name  string
		probe *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
		if pr.probe != nil {
			validateProbe(p, f+"."+pr.name, pr.probe, pr.name != "readinessProbe")
		}
	}
	if c.Lifecycle != nil {
		if c.Lifecycle.PostStart != nil {
			validateHandler(p, f+".lifecycle.postStart", c.Lifecycle.PostStart, grace)
		}
		if c.Lifecycle.PreStop != nil {
			validateHandler(p, f+".lifecycle.preStop", c.Lifecycle.PreStop, grace)
		}
	}
}

func validateResources(p *problems, f string, r corev1.ResourceRequirements) {
	check := func(kind string, l corev1.ResourceList) {
		for name, q := range l {
			switch name {
			case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
			default:
				if !strings.HasPrefix(string(name), "hugepages-") {
					p.add(f+"."+kind+"."+string(name), "unsupported resource: bosun handles cpu, memory, ephemeral-storage and hugepages-*")
				}
			}
			if q.Sign() < 0 {
				p.add(f+"."+kind+"."+string(name), "must be >= 0, not %s", q.String())
			}
		}
	}
	check("requests", r.Requests)
	check("limits", r.Limits)
	for name, req := range r.Requests {
		if lim, ok := r.Limits[name]; ok && req.Cmp(lim) > 0 {
			p.add(f+".requests."+string(name), "%s is more than the limit %s", req.String(), lim.String())
		}
	}
}
