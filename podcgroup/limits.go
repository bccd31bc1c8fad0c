package podcgroup

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/runtime"
)

// The kubelet's CFS constants (pkg/kubelet/cm).
const (
	// CPUPeriod is the CFS period in microseconds.
	CPUPeriod   = 100000
	minShares   = 2
	maxShares   = 262144
	minCPUQuota = 1000
)

// Limits are the settings of a pod cgroup. A zero CPUQuota, MemoryBytes or
// Pids means no limit; CPUPeriod is the CFS period in microseconds (0:
// CPUPeriod).
type Limits struct {
	CPUShares   int64
	CPUQuota    int64
	CPUPeriod   int64
	MemoryBytes int64
	// Pids is the kubelet's podPidsLimit, the pod cgroup's pids.max.
	Pids int64
}

// ForPod computes a pod cgroup's limits as the kubelet's ResourceConfigForPod
// does without pod-level resources (which bosun refuses): requests and
// limits are summed over the app containers and sidecars, an init container
// counts as itself plus the sidecars declared before it, and the pod gets
// the larger of that sum and its largest init container, per resource.
// Requests default to limits, as the API server defaults them. CPU shares
// come from the CPU requests; a CPU quota and a memory limit are set only
// when every container (init containers included) has that limit. A
// BestEffort pod gets the least shares and no limits. The node's
// cpuCFSQuota (off: no quota), cpuCFSQuotaPeriod and podPidsLimit apply to
// every pod, as the kubelet applies them.
func ForPod(pod *corev1.Pod, node runtime.Node) Limits {
	if runtime.QOSClass(pod) == corev1.PodQOSBestEffort {
		return Limits{CPUShares: minShares, Pids: node.PodPidsLimit}
	}
	reqs := aggregate(pod, requests)
	lims := aggregate(pod, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Limits })
	cpuAll, memAll := true, true
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			l := list[i].Resources.Limits
			cpuAll = cpuAll && !l.Cpu().IsZero()
			memAll = memAll && !l.Memory().IsZero()
		}
	}
	out := Limits{CPUShares: shares(reqs.Cpu().MilliValue()), Pids: node.PodPidsLimit}
	if node.CPUCFSQuotaPeriod > 0 {
		out.CPUPeriod = node.CFSPeriod()
	}
	if cpuAll && !node.CPUCFSQuotaOff {
		out.CPUQuota = quota(lims.Cpu().MilliValue(), node.CFSPeriod())
	}
	if memAll {
		out.MemoryBytes = lims.Memory().Value()
	}
	return out
}

// requests are a container's requests with each unset one defaulted to its
// limit.
func requests(c *corev1.Container) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range c.Resources.Limits {
		out[k] = v
	}
	for k, v := range c.Resources.Requests {
		out[k] = v
	}
	return out
}

// aggregate sums what of gives for the app containers and sidecars, then takes per
// resource the larger of that and what each init container needs while it
// runs (itself plus the sidecars started before it).
func aggregate(pod *corev1.Pod, of func(*corev1.Container) corev1.ResourceList) corev1.ResourceList {
	sum := corev1.ResourceList{}
	for i := range pod.Spec.Containers {
		add(sum, of(&pod.Spec.Containers[i]))
	}
	sidecars, inits := corev1.ResourceList{}, corev1.ResourceList{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(sum, of(c))
			add(sidecars, of(c))
			maxOf(inits, sidecars)
			continue
		}
		running := corev1.ResourceList{}
		add(running, of(c))
		add(running, sidecars)
		maxOf(inits, running)
	}
	maxOf(sum, inits)
	return sum
}

func add(to, l corev1.ResourceList) {
	for k, v := range l {
		q := to[k]
		q.Add(v)
		to[k] = q
	}
}

func maxOf(to, l corev1.ResourceList) {
	for k, v := range l {
		if q, ok := to[k]; !ok || v.Cmp(q) > 0 {
			to[k] = v.DeepCopy()
		}
	}
}

func shares(milliCPU int64) int64 {
	return min(max(milliCPU*1024/1000, minShares), maxShares)
}

func quota(milliCPU, period int64) int64 {
	if milliCPU == 0 {
		return 0
	}
	return max(milliCPU*period/1000, minCPUQuota)
}
