package runtime

import (
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The kubelet's default masked and read-only paths, sent explicitly for the
// Default procMount (a runtime that gets none masks nothing).
var (
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// DefaultSeccompProfileRoot is where the kubelet (<its root-dir>/seccomp)
// and the security-profiles-operator keep Localhost seccomp profiles.
const DefaultSeccompProfileRoot = "/var/lib/kubelet/seccomp"

// seccompRoot is the directory of Localhost seccomp profiles.
func (n Node) seccompRoot() string {
	if n.SeccompProfileRoot != "" {
		return n.SeccompProfileRoot
	}
	return DefaultSeccompProfileRoot
}

// effective merges a container's security context over the pod's, as the
// kubelet does for the fields both have.
type effective struct {
	runAsUser, runAsGroup *int64
	runAsNonRoot          *bool
	seccomp               *corev1.SeccompProfile
	appArmor              *corev1.AppArmorProfile
}

func merged(pod *corev1.Pod, c *corev1.Container) effective {
	var e effective
	if psc := pod.Spec.SecurityContext; psc != nil {
		e = effective{psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot, psc.SeccompProfile, psc.AppArmorProfile}
	}
	if csc := c.SecurityContext; csc != nil {
		if csc.RunAsUser != nil {
			e.runAsUser = csc.RunAsUser
		}
		if csc.RunAsGroup != nil {
			e.runAsGroup = csc.RunAsGroup
		}
		if csc.RunAsNonRoot != nil {
			e.runAsNonRoot = csc.RunAsNonRoot
		}
		if csc.SeccompProfile != nil {
			e.seccomp = csc.SeccompProfile
		}
		if csc.AppArmorProfile != nil {
			e.appArmor = csc.AppArmorProfile
		}
	}
	return e
}

// RunAsNonRoot returns whether a container must not run as root, and the
// uid it is set to run as (nil: the image's user).
func RunAsNonRoot(pod *corev1.Pod, c *corev1.Container) (bool, *int64) {
	e := merged(pod, c)
	return e.runAsNonRoot != nil && *e.runAsNonRoot, e.runAsUser
}

// SeccompLocalhostPath is the file of a container's Localhost seccomp
// profile below the node's seccomp profile root, "" when it has none.
func SeccompLocalhostPath(node Node, pod *corev1.Pod, c *corev1.Container) string {
	e := merged(pod, c)
	if e.seccomp != nil && e.seccomp.Type == corev1.SeccompProfileTypeLocalhost && e.seccomp.LocalhostProfile != nil {
		return filepath.Join(node.seccompRoot(), *e.seccomp.LocalhostProfile)
	}
	return ""
}

// seccompProfile translates a seccomp profile, with Localhost profiles below
// the node's profile root; nil means RuntimeDefault, which bosun sends
// explicitly, unless the node says Unconfined (seccompDefault false).
func seccompProfile(node Node, p *corev1.SeccompProfile, privileged bool) (*runtimeapi.SecurityProfile, string) {
	profileRoot := node.seccompRoot()
	switch {
	case (privileged || node.SeccompUnconfined) && p == nil, p != nil && p.Type == corev1.SeccompProfileTypeUnconfined:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, "unconfined"
	case p != nil && p.Type == corev1.SeccompProfileTypeLocalhost && p.LocalhostProfile != nil:
		path := filepath.Join(profileRoot, *p.LocalhostProfile)
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: path}, "localhost/" + path
	}
	return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}, "runtime/default"
}

// appArmorProfile translates an AppArmor profile; nil without one or when
// the host has no AppArmor.
func appArmorProfile(p *corev1.AppArmorProfile, hostHasAppArmor bool) (*runtimeapi.SecurityProfile, string) {
	if !hostHasAppArmor {
		return nil, ""
	}
	switch {
	case p == nil || p.Type == corev1.AppArmorProfileTypeRuntimeDefault:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}, "runtime/default"
	case p.Type == corev1.AppArmorProfileTypeUnconfined:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, "unconfined"
	case p.LocalhostProfile != nil:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: *p.LocalhostProfile}, "localhost/" + *p.LocalhostProfile
	}
	return nil, ""
}

// podPrivileged reports whether any container of the pod is privileged; the
// sandbox must then be privileged too.
func podPrivileged(pod *corev1.Pod) bool {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
				return true
			}
		}
	}
	return false
}

func supplementalGroups(psc *corev1.PodSecurityContext) []int64 {
	if psc == nil {
		return nil
	}
	groups := append([]int64(nil), psc.SupplementalGroups...)
	if psc.FSGroup != nil {
		groups = append(groups, *psc.FSGroup)
	}
	return groups
}

// sandboxSecurity translates the pod-level security context.
func sandboxSecurity(pod *corev1.Pod, node Node) *runtimeapi.LinuxSandboxSecurityContext {
	sc := &runtimeapi.LinuxSandboxSecurityContext{
		NamespaceOptions: namespaceOptions(pod),
		Privileged:       podPrivileged(pod),
	}
	psc := pod.Spec.SecurityContext
	var seccomp *corev1.SeccompProfile
	if psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = supplementalGroups(psc)
		seccomp = psc.SeccompProfile
	}
	// Older runtimes read only the deprecated string field: send both.
	sc.Seccomp, sc.SeccompProfilePath = seccompProfile(node, seccomp, sc.Privileged) //nolint:staticcheck // see above
	return sc
}

// containerSecurity translates a container's security context, merged over
// the pod's.
func containerSecurity(pod *corev1.Pod, c *corev1.Container, node Node, hostHasAppArmor bool) *runtimeapi.LinuxContainerSecurityContext {
	e := merged(pod, c)
	sc := &runtimeapi.LinuxContainerSecurityContext{
		NamespaceOptions:   containerNamespaces(pod),
		SupplementalGroups: supplementalGroups(pod.Spec.SecurityContext),
	}
	if e.runAsUser != nil {
		sc.RunAsUser = &runtimeapi.Int64Value{Value: *e.runAsUser}
	}
	if e.runAsGroup != nil {
		sc.RunAsGroup = &runtimeapi.Int64Value{Value: *e.runAsGroup}
	}
	csc := c.SecurityContext
	if csc != nil {
		sc.Privileged = csc.Privileged != nil && *csc.Privileged
		sc.ReadonlyRootfs = csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem
		if csc.Capabilities != nil {
			sc.Capabilities = &runtimeapi.Capability{
				AddCapabilities:  capNames(csc.Capabilities.Add),
				DropCapabilities: capNames(csc.Capabilities.Drop),
			}
		}
		if !sc.Privileged && csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation {
			sc.NoNewPrivs = true
		}
	}
	// Older runtimes read only the deprecated string fields: send both.
	sc.Seccomp, sc.SeccompProfilePath = seccompProfile(node, e.seccomp, sc.Privileged) //nolint:staticcheck // see above
	if !sc.Privileged {
		sc.Apparmor, sc.ApparmorProfile = appArmorProfile(e.appArmor, hostHasAppArmor) //nolint:staticcheck // see above
	}
	unmasked := csc != nil && csc.ProcMount != nil && *csc.ProcMount == corev1.UnmaskedProcMount
	if !sc.Privileged && !unmasked {
		sc.MaskedPaths = append([]string(nil), defaultMaskedPaths...)
		sc.ReadonlyPaths = append([]string(nil), defaultReadonlyPaths...)
	}
	return sc
}

func capNames(caps []corev1.Capability) []string {
	out := make([]string, 0, len(caps))
	for _, c := range caps {
		out = append(out, strings.ToUpper(string(c)))
	}
	return out
}

// containerNamespaces are a container's namespaces: the pod's network and
// IPC, its own PID namespace unless the pod shares one or uses the host's.
func containerNamespaces(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	ns := namespaceOptions(pod)
	if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace && !pod.Spec.HostPID {
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	return ns
}

func namespaceOptions(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	ns := &runtimeapi.NamespaceOption{
		Network: runtimeapi.NamespaceMode_POD,
		Pid:     runtimeapi.NamespaceMode_CONTAINER,
		Ipc:     runtimeapi.NamespaceMode_POD,
	}
	if pod.Spec.HostNetwork {
		ns.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostPID {
		ns.Pid = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostIPC {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return ns
}

func sysctls(pod *corev1.Pod) map[string]string {
	psc := pod.Spec.SecurityContext
	if psc == nil || len(psc.Sysctls) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, s := range psc.Sysctls {
		out[s.Name] = s.Value
	}
	return out
}
