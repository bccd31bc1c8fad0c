package runtime

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
)

// CPU and memory constants of the kubelet's resource translation.
const (
	cpuPeriod    = 100000
	minCPUShares = 2
	maxCPUShares = 262144
	minCPUQuota  = 1000
)

// PodLogDir is the kubelet's log directory of a pod:
// <podLogsDir>/<namespace>_<name>_<uid>.
func PodLogDir(podLogsDir, namespace, name, uid string) string {
	return filepath.Join(podLogsDir, namespace+"_"+name+"_"+uid)
}

// ContainerLogPath is a container's log file relative to its pod's log
// directory: <container>/<restartCount>.log.
func ContainerLogPath(name string, restartCount uint32) string {
	return filepath.Join(name, strconv.FormatUint(uint64(restartCount), 10)+".log")
}

// Node is what translation needs to know of the node and of bosun's set-up.
type Node struct {
	Name       string
	HostIP     string
	PodLogsDir string
	RootDir    string
	// SeccompProfileRoot is the directory of Localhost seccomp profiles;
	// empty means DefaultSeccompProfileRoot.
	SeccompProfileRoot string
	// AppArmor is whether the host has AppArmor enabled.
	AppArmor bool
	// CgroupDriver is "cgroupfs" or "systemd".
	CgroupDriver string
	// Memory is what the node's cgroups can do with memory (DetectCgroupMemory).
	Memory CgroupMemory
	// SingleProcessOOMKill is the kubelet's singleProcessOOMKill: on cgroup
	// v2, false (its default there) has an OOM kill take the whole container.
	SingleProcessOOMKill bool
	// SELinux is whether the host runs SELinux (SELinuxEnabled): mounts are
	// then relabelled where the kubelet relabels them.
	SELinux bool
	// DNS is the parsed --resolv-conf (dnsPolicy Default); nil when there is
	// none (--resolv-conf ""), as the kubelet's empty resolvConf. With
	// ResolvConf set, SandboxConfig replaces it with a fresh read.
	DNS *runtimeapi.DNSConfig
	// ResolvConf, when set, is read again for every sandbox config, as the
	// kubelet reads its resolvConf for every new sandbox.
	ResolvConf *ResolvConf
	// ClusterDNS and ClusterDomain are the kubelet's clusterDNS (server IPs)
	// and clusterDomain, for dnsPolicy ClusterFirst.
	ClusterDNS    []string
	ClusterDomain string
	// CPUs and MemoryBytes are the node's allocatable resources, the values
	// of resourceFieldRef limits that a container does not set; MemoryBytes
	// is also the machine's memory capacity of the OOM score.
	CPUs        int64
	MemoryBytes int64
	// SeccompUnconfined is the kubelet's seccompDefault false: a container
	// (and a sandbox) without a seccomp profile runs Unconfined. bosun's
	// default, false here, is RuntimeDefault (seccompDefault true).
	SeccompUnconfined bool
	// CPUCFSQuotaOff is the kubelet's cpuCFSQuota false: CPU limits set no
	// CFS quota. CPUCFSQuotaPeriod is its cpuCFSQuotaPeriod (0: 100ms).
	CPUCFSQuotaOff    bool
	CPUCFSQuotaPeriod time.Duration
	// PodPidsLimit is the kubelet's podPidsLimit, the pids.max of each pod's
	// cgroup; 0 means no limit.
	PodPidsLimit int64
}

// CFSPeriod is the CFS period of CPU limits in microseconds: the node's
// cpuCFSQuotaPeriod, 100ms by default.
func (n Node) CFSPeriod() int64 {
	if n.CPUCFSQuotaPeriod > 0 {
		return n.CPUCFSQuotaPeriod.Microseconds()
	}
	return cpuPeriod
}

// CgroupParent is the cgroup of a pod's containers.
func CgroupParent(driver, uid string) string {
	if driver == CgroupDriverSystemd {
		return "bosun-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice"
	}
	return "/bosun/pod" + uid
}

// SandboxConfig translates a static pod into the config of its sandbox with
// the given attempt. seen is when bosun first saw this version of the pod.
func SandboxConfig(sp *manifest.StaticPod, attempt uint32, node Node, seen time.Time) *runtimeapi.PodSandboxConfig {
	pod := sp.Pod
	if node.ResolvConf != nil {
		node.DNS = node.ResolvConf.Read()
	}
	labels := map[string]string{}
	for k, v := range pod.Labels {
		labels[k] = v
	}
	for k, v := range podIdentityLabels(sp) {
		labels[k] = v
	}
	annotations := map[string]string{}
	for k, v := range pod.Annotations {
		annotations[k] = v
	}
	annotations[AnnotationConfigHash] = sp.Hash
	annotations[AnnotationConfigSource] = "file"
	annotations[AnnotationConfigSeen] = seen.UTC().Format(time.RFC3339Nano)
	annotations[AnnotationManifest] = sp.File
	if spec, err := json.Marshal(pod.Spec); err == nil {
		annotations[AnnotationSpec] = string(spec)
	}

	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name:      sp.Name,
			Uid:       sp.UID,
			Namespace: sp.Namespace,
			Attempt:   attempt,
		},
		LogDirectory: PodLogDir(node.PodLogsDir, sp.Namespace, sp.Name, sp.UID),
		DnsConfig:    DNSConfig(pod, node),
		PortMappings: portMappings(pod),
		Labels:       labels,
		Annotations:  annotations,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent:    CgroupParent(node.CgroupDriver, sp.UID),
			SecurityContext: sandboxSecurity(pod, node),
			Sysctls:         sysctls(pod),
		},
	}
	if !pod.Spec.HostNetwork {
		cfg.Hostname = kernelHostname(sp, node.ClusterDomain)
	}
	return cfg
}

// The kernel's limits on a hostname, and on the FQDN of setHostnameAsFQDN.
const (
	hostnameMaxLen = 63
	fqdnMaxLen     = 64
)

// PodHostnameAndDomain are the hostname and domain the kubelet gives a pod
// (for its sandbox and /etc/hosts): spec.hostnameOverride when set, with no
// domain; else spec.hostname, or the pod's name as the kubelet names a static
// pod (<name>-<node>); cut to 63 characters without a trailing '-' or '.'.
// The domain is <subdomain>.<namespace>.svc.<clusterDomain> when
// spec.subdomain is set, else "".
func PodHostnameAndDomain(sp *manifest.StaticPod, clusterDomain string) (hostname, domain string) {
	pod := sp.Pod
	if o := pod.Spec.HostnameOverride; o != nil {
		return truncateHostname(*o), ""
	}
	hostname = sp.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if pod.Spec.Subdomain != "" {
		domain = pod.Spec.Subdomain + "." + sp.Namespace + ".svc." + clusterDomain
	}
	return truncateHostname(hostname), domain
}

func truncateHostname(h string) string {
	if len(h) <= hostnameMaxLen {
		return h
	}
	return strings.TrimRight(h[:hostnameMaxLen], "-.")
}

// kernelHostname is the sandbox's hostname: the pod's hostname, or its FQDN
// with setHostnameAsFQDN and a domain. The kubelet refuses to start a pod
// whose FQDN is over 64 characters; bosun then keeps the short hostname.
func kernelHostname(sp *manifest.StaticPod, clusterDomain string) string {
	host, domain := PodHostnameAndDomain(sp, clusterDomain)
	if fqdn := sp.Pod.Spec.SetHostnameAsFQDN; fqdn != nil && *fqdn && domain != "" && len(host)+1+len(domain) <= fqdnMaxLen {
		return host + "." + domain
	}
	return host
}

func portMappings(pod *corev1.Pod) []*runtimeapi.PortMapping {
	var out []*runtimeapi.PortMapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			out = append(out, &runtimeapi.PortMapping{
				Protocol:      protocol(p.Protocol),
				ContainerPort: p.ContainerPort,
				HostPort:      p.HostPort,
				HostIp:        p.HostIP,
			})
		}
	}
	return out
}

func protocol(p corev1.Protocol) runtimeapi.Protocol {
	switch p {
	case corev1.ProtocolUDP:
		return runtimeapi.Protocol_UDP
	case corev1.ProtocolSCTP:
		return runtimeapi.Protocol_SCTP
	}
	return runtimeapi.Protocol_TCP
}

func podIdentityLabels(sp *manifest.StaticPod) map[string]string {
	return map[string]string{
		LabelManaged:      "true",
		LabelPodName:      sp.Name,
		LabelPodNamespace: sp.Namespace,
		LabelPodUID:       sp.UID,
	}
}

// ContainerExtras is what a container's config needs beyond the pod spec,
// known only when it is created: its mounts (volumes, termination message,
// /etc/hosts, all prepared on disk by the caller), the pod's IP, and the
// reference the runtime resolved the container's image to (the ID of
// ImageStatus; "" sends the manifest's image string in its place).
type ContainerExtras struct {
	Mounts   []*runtimeapi.Mount
	PodIP    string
	ImageRef string
}

// ContainerConfig translates container c of a static pod into the config of
// its instance number restartCount.
func ContainerConfig(sp *manifest.StaticPod, c *corev1.Container, restartCount uint32, node Node, x ContainerExtras) *runtimeapi.ContainerConfig {
	pod := sp.Pod
	labels := podIdentityLabels(sp)
	labels[LabelContainerName] = c.Name
	annotations := map[string]string{
		AnnotationRestartCount:    strconv.FormatUint(uint64(restartCount), 10),
		AnnotationTermMessagePath: c.TerminationMessagePath,
		AnnotationTermGracePeriod: strconv.FormatInt(GracePeriod(pod), 10),
		AnnotationContainerKind:   ContainerKind(pod, c.Name),
		AnnotationContainerHash:   strconv.FormatUint(ContainerHash(c), 16),
		// The manifest's defaulting sets the policy; no hash input changes.
		AnnotationTermMessagePolicy: string(c.TerminationMessagePolicy),
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if b, err := json.Marshal(c.Lifecycle.PreStop); err == nil {
			annotations[AnnotationPreStopHandler] = string(b)
		}
	}
	if len(c.Ports) > 0 {
		if b, err := json.Marshal(c.Ports); err == nil {
			annotations[AnnotationContainerPorts] = string(b)
		}
	}
	expanded := containerEnv(sp, c, node, x.PodIP)
	resources := resources(withDefaultRequests(c.Resources), node.CFSPeriod(), !node.CPUCFSQuotaOff)
	resources.OomScoreAdj = OOMScoreAdj(pod, c, node.MemoryBytes)
	memoryLimits(resources, node)
	return &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: restartCount},
		Image:       imageSpec(c, x.ImageRef),
		Command:     expanded.Command,
		Args:        expanded.Args,
		WorkingDir:  c.WorkingDir,
		Envs:        criEnv(c.Env, expanded.Env),
		Mounts:      relabelMounts(pod, c, x.Mounts, node.SELinux),
		Labels:      labels,
		Annotations: annotations,
		LogPath:     ContainerLogPath(c.Name, restartCount),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       resources,
			SecurityContext: containerSecurity(pod, c, node, node.AppArmor),
		},
	}
}

// imageSpec is a container's image as the kubelet sends it to
// CreateContainer: the reference the runtime resolved it to (ref, when
// known), with the manifest's string as UserSpecifiedImage, which crictl
// and the runtime's status show.
func imageSpec(c *corev1.Container, ref string) *runtimeapi.ImageSpec {
	if ref == "" {
		ref = c.Image
	}
	return &runtimeapi.ImageSpec{Image: ref, UserSpecifiedImage: c.Image}
}

// ContainerKind is "init", "sidecar" (an init container with restartPolicy
// Always) or "app": recorded on the container, so that a pod can be stopped
// in the right order after its manifest is gone.
func ContainerKind(pod *corev1.Pod, name string) string { return KindOf(pod, name).String() }

// Resources translates requests and limits as the kubelet does with
// cgroupfs: CPU request to shares, CPU limit to a CFS quota over a 100 ms
// period, memory limit to bytes.
func Resources(r corev1.ResourceRequirements) *runtimeapi.LinuxContainerResources {
	return resources(r, cpuPeriod, true)
}

// resources is Resources with the CFS period in microseconds, and with no
// CFS quota unless quota (the kubelet's cpuCFSQuota).
func resources(r corev1.ResourceRequirements, period int64, quota bool) *runtimeapi.LinuxContainerResources {
	out := &runtimeapi.LinuxContainerResources{}
	cpuReq, hasReq := r.Requests[corev1.ResourceCPU]
	cpuLim, hasLim := r.Limits[corev1.ResourceCPU]
	switch {
	case hasReq:
		out.CpuShares = milliCPUToShares(cpuReq.MilliValue())
	case hasLim:
		out.CpuShares = milliCPUToShares(cpuLim.MilliValue())
	default:
		out.CpuShares = minCPUShares
	}
	if hasLim && quota {
		out.CpuPeriod = period
		out.CpuQuota = max(cpuLim.MilliValue()*period/1000, minCPUQuota)
	}
	if mem, ok := r.Limits[corev1.ResourceMemory]; ok {
		out.MemoryLimitInBytes = mem.Value()
	}
	for name, q := range r.Limits {
		if size, ok := strings.CutPrefix(string(name), "hugepages-"); ok {
			out.HugepageLimits = append(out.HugepageLimits, &runtimeapi.HugepageLimit{PageSize: hugePageSize(size), Limit: uint64(q.Value())})
		}
	}
	sort.Slice(out.HugepageLimits, func(i, j int) bool { return out.HugepageLimits[i].PageSize < out.HugepageLimits[j].PageSize })
	return out
}

func milliCPUToShares(m int64) int64 {
	return min(max(m*1024/1000, minCPUShares), maxCPUShares)
}

// hugePageSize turns "2Mi" into the cgroup's "2MB".
func hugePageSize(s string) string {
	return strings.TrimSuffix(s, "i") + "B"
}

// containerEnv is a container's environment, command and args with their
// $(VAR) references resolved. A manifest that passed Load expands within
// manifest.MaxExpandedValue and MaxExpandedTotal (validation expands it with
// the longest values the node can provide); one that would not is left as
// written, which the manifest's size bounds, rather than built.
func containerEnv(sp *manifest.StaticPod, c *corev1.Container, node Node, podIP string) *manifest.Expanded {
	source := func(src *corev1.EnvVarSource) string { return EnvSourceValue(sp, c, src, node, podIP) }
	x, err := manifest.ExpandContainer(c, source)
	if err == nil {
		return x
	}
	x = &manifest.Expanded{Vars: map[string]string{}, Command: c.Command, Args: c.Args}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			v = source(e.ValueFrom)
		}
		x.Vars[e.Name] = v
		x.Env = append(x.Env, v)
	}
	return x
}

// criEnv pairs a container's env names with their expanded values. A name
// given more than once is sent once, with its last value, where it last
// appears: the kubelet's last one wins, and a process that reads the first
// of two equal names (glibc's getenv) sees the same value as it would there.
func criEnv(env []corev1.EnvVar, values []string) []*runtimeapi.KeyValue {
	last := make(map[string]int, len(env))
	for i, e := range env {
		last[e.Name] = i
	}
	out := make([]*runtimeapi.KeyValue, 0, len(last))
	for i, e := range env {
		if last[e.Name] == i {
			out = append(out, &runtimeapi.KeyValue{Key: e.Name, Value: []byte(values[i])})
		}
	}
	return out
}

// EnvVars is a container's environment as the container sees it, for
// expanding $(VAR) elsewhere (subPathExpr).
func EnvVars(sp *manifest.StaticPod, c *corev1.Container, node Node, podIP string) map[string]string {
	return containerEnv(sp, c, node, podIP).Vars
}

// Expand replaces $(NAME) with vars[NAME] when NAME is defined, turns $$
// into $, and leaves everything else as written (the kubelet's rules), for a
// subPathExpr: an expansion longer than manifest.MaxExpandedValue (which
// validation refuses) is not built, and s is returned as written.
func Expand(s string, vars map[string]string) string {
	v, err := manifest.ExpandSubPath(s, vars)
	if err != nil {
		return s
	}
	return v
}

// GracePeriodOf reads a container's termination grace period from its
// annotations, so a pod can be stopped right after its manifest is gone.
func GracePeriodOf(annotations map[string]string) int64 {
	if g, err := strconv.ParseInt(annotations[AnnotationTermGracePeriod], 10, 64); err == nil && g >= 0 {
		return g
	}
	return manifest.DefaultTerminationGracePeriod
}

// RestartCountOf reads a container's restart count from its annotations,
// falling back to the attempt in its metadata.
func RestartCountOf(annotations map[string]string, attempt uint32) uint32 {
	if n, err := strconv.ParseUint(annotations[AnnotationRestartCount], 10, 32); err == nil {
		return uint32(n)
	}
	return attempt
}

// Describe is a short "namespace/name" of a sandbox for messages.
func Describe(m *runtimeapi.PodSandboxMetadata) string {
	return fmt.Sprintf("%s/%s", m.GetNamespace(), m.GetName())
}
