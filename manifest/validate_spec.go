package manifest

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// sysctlName is the form of a sysctl name, with dots or slashes.
var sysctlName = regexp.MustCompile(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

// fieldPaths are the downward API fields bosun resolves.
var fieldPaths = map[string]bool{
	"metadata.name": true, "metadata.namespace": true, "metadata.uid": true, "metadata.labels": true,
	"metadata.annotations": true, "spec.nodeName": true, "spec.serviceAccountName": true,
	"status.podIP": true, "status.podIPs": true, "status.hostIP": true, "status.hostIPs": true,
}

func validFieldPath(fp string) bool {
	if fieldPaths[fp] {
		return true
	}
	for _, prefix := range []string{"metadata.labels['", "metadata.annotations['"} {
		if strings.HasPrefix(fp, prefix) && strings.HasSuffix(fp, "']") {
			return true
		}
	}
	return false
}

var resourceFields = map[string]bool{
	"limits.cpu": true, "limits.memory": true, "limits.ephemeral-storage": true,
	"requests.cpu": true, "requests.memory": true, "requests.ephemeral-storage": true,
}

func validateEnvSource(p *problems, f, value string, src *corev1.EnvVarSource) {
	if value != "" {
		p.add(f, "may not be set together with value")
	}
	switch {
	case src.FieldRef == nil && src.ResourceFieldRef == nil && src.SecretKeyRef == nil && src.ConfigMapKeyRef == nil && src.FileKeyRef == nil:
		p.add(f, "required: one of fieldRef and resourceFieldRef")
	case src.FieldRef != nil:
		if !validFieldPath(src.FieldRef.FieldPath) {
			p.add(f+".fieldRef.fieldPath", "%q is not a supported field", src.FieldRef.FieldPath)
		}
	case src.ResourceFieldRef != nil:
		if !resourceFields[src.ResourceFieldRef.Resource] {
			p.add(f+".resourceFieldRef.resource", "%q is not a supported resource", src.ResourceFieldRef.Resource)
		}
	}
}

// validateVolumes checks the pod's volumes and returns their names.
func validateVolumes(p *problems, pod *corev1.Pod) map[string]bool {
	names := map[string]bool{}
	for i, v := range pod.Spec.Volumes {
		f := fmt.Sprintf("spec.volumes[%d]", i)
		for _, msg := range validation.IsDNS1123Label(v.Name) {
			p.add(f+".name", "%q: %s", v.Name, msg)
		}
		if names[v.Name] {
			p.add(f+".name", "%q is used by another volume", v.Name)
		}
		names[v.Name] = true
		sources := 0
		for _, set := range []bool{v.HostPath != nil, v.EmptyDir != nil, v.DownwardAPI != nil, staticForbidden(&v.VolumeSource)} {
			if set {
				sources++
			}
		}
		if sources > 1 {
			p.add(f, "volume %q has more than one source", v.Name)
		}
		switch {
		case v.HostPath != nil:
			if !path.IsAbs(v.HostPath.Path) {
				p.add(f+".hostPath.path", "%q must be an absolute path", v.HostPath.Path)
			}
			if t := v.HostPath.Type; t != nil {
				switch *t {
				case corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate,
					corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev:
				default:
					p.add(f+".hostPath.type", "unsupported value %q", *t)
				}
			}
		case v.EmptyDir != nil:
			if m := v.EmptyDir.Medium; m != corev1.StorageMediumDefault && m != corev1.StorageMediumMemory {
				p.add(f+".emptyDir.medium", "unsupported value %q: must be empty or Memory", m)
			}
			if s := v.EmptyDir.SizeLimit; s != nil && s.Sign() < 0 {
				p.add(f+".emptyDir.sizeLimit", "must be >= 0")
			}
		case v.DownwardAPI != nil:
			for j, item := range v.DownwardAPI.Items {
				itf := fmt.Sprintf("%s.downwardAPI.items[%d]", f, j)
				validateRelPath(p, itf+".path", item.Path, false)
				if first, _, _ := strings.Cut(item.Path, "/"); first != ".." && strings.HasPrefix(first, "..") {
					// As the API server: such names would collide with the
					// atomic writer's own ..data and timestamped directories.
					p.add(itf+".path", "%q may not start with '..' (the volume's own ..data and timestamped directories)", item.Path)
				}
				switch {
				case item.FieldRef != nil && item.ResourceFieldRef != nil, item.FieldRef == nil && item.ResourceFieldRef == nil:
					p.add(itf, "needs exactly one of fieldRef and resourceFieldRef")
				case item.FieldRef != nil && !validFieldPath(item.FieldRef.FieldPath):
					p.add(itf+".fieldRef.fieldPath", "%q is not a supported field", item.FieldRef.FieldPath)
				case item.ResourceFieldRef != nil && !resourceFields[item.ResourceFieldRef.Resource]:
					p.add(itf+".resourceFieldRef.resource", "%q is not a supported resource", item.ResourceFieldRef.Resource)
				}
			}
		}
	}
	return names
}

func validateRelPath(p *problems, f, rel string, mayBeEmpty bool) {
	switch {
	case rel == "" && !mayBeEmpty:
		p.add(f, "required")
	case path.IsAbs(rel):
		p.add(f, "%q must be a relative path", rel)
	default:
		for _, part := range strings.Split(rel, "/") {
			if part == ".." {
				p.add(f, "%q may not contain '..'", rel)
				break
			}
		}
	}
}

func validateMounts(p *problems, f string, c *corev1.Container, volumes map[string]bool) {
	paths := map[string]bool{}
	for j, m := range c.VolumeMounts {
		mf := fmt.Sprintf("%s.volumeMounts[%d]", f, j)
		if !volumes[m.Name] {
			p.add(mf+".name", "%q is not a volume of the pod", m.Name)
		}
		if !path.IsAbs(m.MountPath) {
			p.add(mf+".mountPath", "%q must be an absolute path", m.MountPath)
		}
		if paths[path.Clean(m.MountPath)] {
			p.add(mf+".mountPath", "%q is mounted twice", m.MountPath)
		}
		paths[path.Clean(m.MountPath)] = true
		if m.SubPath != "" && m.SubPathExpr != "" {
			p.add(mf+".subPathExpr", "may not be set together with subPath")
		}
		validateRelPath(p, mf+".subPath", m.SubPath, true)
		if mp := m.MountPropagation; mp != nil {
			switch *mp {
			case corev1.MountPropagationNone, corev1.MountPropagationHostToContainer:
			case corev1.MountPropagationBidirectional:
				if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
					p.add(mf+".mountPropagation", "Bidirectional needs a privileged container")
				}
			default:
				p.add(mf+".mountPropagation", "unsupported value %q", *mp)
			}
		}
	}
}

func validatePort(p *problems, f string, port intstr.IntOrString) {
	if port.Type == intstr.Int {
		if port.IntVal < 1 || port.IntVal > 65535 {
			p.add(f, "%d is out of range 1-65535", port.IntVal)
		}
		return
	}
	for _, msg := range validation.IsValidPortName(port.StrVal) {
		p.add(f, "%q: %s", port.StrVal, msg)
	}
}

// validateProbe checks a probe; liveness and startup probes must have
// successThreshold 1.
func validateProbe(p *problems, f string, pr *corev1.Probe, successMustBeOne bool) {
	actions := 0
	for _, set := range []bool{pr.Exec != nil, pr.HTTPGet != nil, pr.TCPSocket != nil, pr.GRPC != nil} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		p.add(f, "needs exactly one of exec, httpGet, tcpSocket and grpc")
	}
	switch {
	case pr.Exec != nil && len(pr.Exec.Command) == 0:
		p.add(f+".exec.command", "required")
	case pr.HTTPGet != nil:
		validatePort(p, f+".httpGet.port", pr.HTTPGet.Port)
		if s := pr.HTTPGet.Scheme; s != corev1.URISchemeHTTP && s != corev1.URISchemeHTTPS {
			p.add(f+".httpGet.scheme", "unsupported value %q: must be HTTP or HTTPS", s)
		}
	case pr.TCPSocket != nil:
		validatePort(p, f+".tcpSocket.port", pr.TCPSocket.Port)
	case pr.GRPC != nil:
		if pr.GRPC.Port < 1 || pr.GRPC.Port > 65535 {
			p.add(f+".grpc.port", "%d is out of range 1-65535", pr.GRPC.Port)
		}
	}
	for _, n := range []struct {
		name string
		v    int32
		min  int32
	}{{"initialDelaySeconds", pr.InitialDelaySeconds, 0}, {"periodSeconds", pr.PeriodSeconds, 1}, {"timeoutSeconds", pr.TimeoutSeconds, 1},
		{"successThreshold", pr.SuccessThreshold, 1}, {"failureThreshold", pr.FailureThreshold, 1}} {
		if n.v < n.min {
			p.add(f+"."+n.name, "must be >= %d, not %d", n.min, n.v)
		}
	}
	if successMustBeOne && pr.SuccessThreshold != 1 {
		p.add(f+".successThreshold", "must be 1 for liveness and startup probes")
	}
}

// validateHandler checks a lifecycle hook; a sleep may last from 0 to grace
// seconds, as the API server allows (PodLifecycleSleepActionAllowZero): a
// longer one would outlive the pod's termination.
func validateHandler(p *problems, f string, h *corev1.LifecycleHandler, grace int64) {
	actions := 0
	for _, set := range []bool{h.Exec != nil, h.HTTPGet != nil, h.TCPSocket != nil, h.Sleep != nil} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		p.add(f, "needs exactly one of exec, httpGet, tcpSocket and sleep")
	}
	switch {
	case h.Exec != nil && len(h.Exec.Command) == 0:
		p.add(f+".exec.command", "required")
	case h.HTTPGet != nil:
		validatePort(p, f+".httpGet.port", h.HTTPGet.Port)
	case h.TCPSocket != nil:
		validatePort(p, f+".tcpSocket.port", h.TCPSocket.Port)
	case h.Sleep != nil && (h.Sleep.Seconds < 0 || h.Sleep.Seconds > max(grace, 0)):
		p.add(f+".sleep.seconds", "%d is out of range 0-%d: a sleep may not outlast terminationGracePeriodSeconds", h.Sleep.Seconds, max(grace, 0))
	}
}

func validateSeccomp(p *problems, f string, s *corev1.SeccompProfile) {
	if s == nil {
		return
	}
	switch s.Type {
	case corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined:
		if s.LocalhostProfile != nil {
			p.add(f+".localhostProfile", "only allowed with type Localhost")
		}
	case corev1.SeccompProfileTypeLocalhost:
		if s.LocalhostProfile == nil || *s.LocalhostProfile == "" {
			p.add(f+".localhostProfile", "required with type Localhost")
		} else {
			validateRelPath(p, f+".localhostProfile", *s.LocalhostProfile, false)
		}
	default:
		p.add(f+".type", "unsupported value %q: must be RuntimeDefault, Unconfined or Localhost", s.Type)
	}
}

func validateIDs(p *problems, f string, user, group *int64) {
	if user != nil && *user < 0 {
		p.add(f+".runAsUser", "must be >= 0")
	}
	if group != nil && *group < 0 {
		p.add(f+".runAsGroup", "must be >= 0")
	}
}

// validateSecurity checks the pod's and the containers' security contexts.
func validateSecurity(p *problems, pod *corev1.Pod) {
	if psc := pod.Spec.SecurityContext; psc != nil {
		validateIDs(p, "spec.securityContext", psc.RunAsUser, psc.RunAsGroup)
		validateSeccomp(p, "spec.securityContext.seccompProfile", psc.SeccompProfile)
		for i, s := range psc.Sysctls {
			if !sysctlName.MatchString(s.Name) {
				p.add(fmt.Sprintf("spec.securityContext.sysctls[%d].name", i), "%q is not a sysctl name", s.Name)
			}
		}
		if psc.RunAsNonRoot != nil && *psc.RunAsNonRoot && psc.RunAsUser != nil && *psc.RunAsUser == 0 {
			p.add("spec.securityContext.runAsNonRoot", "contradicts runAsUser 0")
		}
	}
	for _, list := range []struct {
		path string
		cs   []corev1.Container
	}{{"spec.initContainers", pod.Spec.InitContainers}, {"spec.containers", pod.Spec.Containers}} {
		for i := range list.cs {
			sc := list.cs[i].SecurityContext
			if sc == nil {
				continue
			}
			f := fmt.Sprintf("%s[%d].securityContext", list.path, i)
			validateIDs(p, f, sc.RunAsUser, sc.RunAsGroup)
			validateSeccomp(p, f+".seccompProfile", sc.SeccompProfile)
			if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount && *sc.ProcMount != corev1.UnmaskedProcMount {
				p.add(f+".procMount", "unsupported value %q", *sc.ProcMount)
			}
			if sc.Privileged != nil && *sc.Privileged && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
				p.add(f+".allowPrivilegeEscalation", "cannot be false for a privileged container")
			}
			if sc.RunAsNonRoot != nil && *sc.RunAsNonRoot && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
				p.add(f+".runAsNonRoot", "contradicts runAsUser 0")
			}
		}
	}
}
