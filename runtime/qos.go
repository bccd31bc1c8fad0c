package runtime

import (
	corev1 "k8s.io/api/core/v1"
)

// OOM score adjustments of the kubelet (pkg/kubelet/qos).
const (
	guaranteedOOMScoreAdj = -997
	besteffortOOMScoreAdj = 1000
)

// systemNodeCritical is the priority class of node-critical pods, as kubeadm
// gives its control-plane pods.
const systemNodeCritical = "system-node-critical"

// withDefaultRequests is r with each limit that has no request also as the
// request: the API server's defaulting of a Pod, which the kubelet applies to
// static pods too. It is done at translation time, never in the manifest's
// defaulting, so that the spec hash stays what it is.
func withDefaultRequests(r corev1.ResourceRequirements) corev1.ResourceRequirements {
	if len(r.Limits) == 0 {
		return r
	}
	req := make(corev1.ResourceList, len(r.Limits)+len(r.Requests))
	for k, v := range r.Requests {
		req[k] = v
	}
	for k, v := range r.Limits {
		if _, ok := req[k]; !ok {
			req[k] = v
		}
	}
	r.Requests = req
	return r
}

// QOSClass is a pod's quality of service class as the kubelet computes it,
// requests defaulted to limits: BestEffort when no container sets a CPU or
// memory request or limit, Guaranteed when every container sets equal
// non-zero requests and limits for both, Burstable otherwise.
func QOSClass(pod *corev1.Pod) corev1.PodQOSClass {
	var class corev1.PodQOSClass
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			c := containerQOS(withDefaultRequests(list[i].Resources))
			switch {
			case c == corev1.PodQOSBurstable:
				return c
			case class == "":
				class = c
			case class != c:
				return corev1.PodQOSBurstable
			}
		}
	}
	if class == "" {
		return corev1.PodQOSBestEffort
	}
	return class
}

func containerQOS(r corev1.ResourceRequirements) corev1.PodQOSClass {
	if len(r.Requests) == 0 && len(r.Limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	var class corev1.PodQOSClass
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := r.Requests[name], r.Limits[name]
		c := corev1.PodQOSGuaranteed
		switch {
		case !req.Equal(lim):
			return corev1.PodQOSBurstable
		case req.IsZero():
			c = corev1.PodQOSBestEffort
		}
		if class != "" && class != c {
			return corev1.PodQOSBurstable
		}
		class = c
	}
	return class
}

// OOMScoreAdj is a container's oom_score_adj as the kubelet (v1.37) sets it.
// The kubelet counts every static pod as critical (IsCriticalPod), but gives
// the Guaranteed score to critical pods only when they are node-critical
// (priorityClassName system-node-critical); every other pod is scored by its
// QoS class: Guaranteed -997, BestEffort 1000, Burstable
// 1000 - 1000*memoryRequest/memoryCapacity kept within [3, 999], and a
// sidecar never above the app container with the smallest memory request. A
// runtime with restrict_oom_score_adj raises a score below its own.
func OOMScoreAdj(pod *corev1.Pod, c *corev1.Container, memoryCapacity int64) int64 {
	if pod.Spec.PriorityClassName == systemNodeCritical {
		return guaranteedOOMScoreAdj
	}
	switch QOSClass(pod) {
	case corev1.PodQOSGuaranteed:
		return guaranteedOOMScoreAdj
	case corev1.PodQOSBestEffort:
		return besteffortOOMScoreAdj
	}
	if memoryCapacity <= 0 {
		// Capacity unknown (no /proc/meminfo): the least protected Burstable score.
		return besteffortOOMScoreAdj - 1
	}
	score := burstableScore(memoryRequest(c), memoryCapacity)
	if KindOf(pod, c.Name) == KindSidecar && len(pod.Spec.Containers) > 0 {
		least := memoryRequest(&pod.Spec.Containers[0])
		for i := range pod.Spec.Containers[1:] {
			least = min(least, memoryRequest(&pod.Spec.Containers[i+1]))
		}
		score = min(score, burstableScore(least, memoryCapacity))
	}
	// Above every Guaranteed container, below every BestEffort one.
	return min(max(score, 1000+guaranteedOOMScoreAdj), besteffortOOMScoreAdj-1)
}

func burstableScore(request, capacity int64) int64 {
	return 1000 - (1000*request)/capacity
}

// memoryRequest is a container's memory request in bytes, defaulted to its
// limit.
func memoryRequest(c *corev1.Container) int64 {
	r := withDefaultRequests(c.Resources)
	return r.Requests.Memory().Value()
}
