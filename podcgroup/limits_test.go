package podcgroup

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/bosun-sh/bosun/runtime"
)

// res builds requirements from maps of quantities.
func res(limits, requests map[corev1.ResourceName]string) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{}
	for _, m := range []struct {
		in  map[corev1.ResourceName]string
		out *corev1.ResourceList
	}{{limits, &r.Limits}, {requests, &r.Requests}} {
		if len(m.in) == 0 {
			continue
		}
		*m.out = corev1.ResourceList{}
		for k, v := range m.in {
			(*m.out)[k] = resource.MustParse(v)
		}
	}
	return r
}

type lim = map[corev1.ResourceName]string

func ctr(limits, requests lim) corev1.Container {
	return corev1.Container{Name: "c", Resources: res(limits, requests)}
}

func sidecar(limits, requests lim) corev1.Container {
	c := ctr(limits, requests)
	always := corev1.ContainerRestartPolicyAlways
	c.RestartPolicy = &always
	return c
}

const mi = 1 << 20

func TestForPod(t *testing.T) {
	for _, tc := range []struct {
		name       string
		init, apps []corev1.Container
		want       Limits
	}{
		{"best effort", nil, []corev1.Container{ctr(nil, nil), ctr(nil, nil)}, Limits{CPUShares: 2}},
		{"memory limits summed", nil, []corev1.Container{ctr(lim{"memory": "32Mi"}, nil), ctr(lim{"memory": "64Mi"}, nil)},
			// Requests default to limits: no CPU request, so the least shares.
			Limits{CPUShares: 2, MemoryBytes: 96 * mi}},
		{"guaranteed", nil, []corev1.Container{ctr(lim{"cpu": "500m", "memory": "32Mi"}, nil), ctr(lim{"cpu": "250m", "memory": "64Mi"}, nil)},
			Limits{CPUShares: 768, CPUQuota: 75000, MemoryBytes: 96 * mi}},
		{"one container without a memory limit: none for the pod", nil,
			[]corev1.Container{ctr(lim{"cpu": "1", "memory": "32Mi"}, nil), ctr(lim{"cpu": "1"}, lim{"memory": "10Mi"})},
			Limits{CPUShares: 2048, CPUQuota: 200000}},
		{"requests make shares, no limits", nil, []corev1.Container{ctr(nil, lim{"cpu": "100m"}), ctr(nil, lim{"cpu": "200m"})},
			Limits{CPUShares: 307}},
		{"an init container without a limit: none for the pod",
			[]corev1.Container{ctr(nil, lim{"cpu": "10m"})}, []corev1.Container{ctr(lim{"memory": "32Mi", "cpu": "1"}, nil)},
			Limits{CPUShares: 1024}},
		{"the largest init container wins over a smaller sum",
			[]corev1.Container{ctr(lim{"memory": "256Mi", "cpu": "2"}, nil), ctr(lim{"memory": "16Mi", "cpu": "100m"}, nil)},
			[]corev1.Container{ctr(lim{"memory": "32Mi", "cpu": "500m"}, nil), ctr(lim{"memory": "64Mi", "cpu": "500m"}, nil)},
			Limits{CPUShares: 2048, CPUQuota: 200000, MemoryBytes: 256 * mi}},
		{"sidecars add to the sum and to the init containers after them",
			[]corev1.Container{
				sidecar(lim{"memory": "100Mi", "cpu": "100m"}, nil),
				ctr(lim{"memory": "150Mi", "cpu": "100m"}, nil), // runs with the sidecar: 250Mi
			},
			[]corev1.Container{ctr(lim{"memory": "64Mi", "cpu": "100m"}, nil)}, // with the sidecar: 164Mi
			Limits{CPUShares: 204, CPUQuota: 20000, MemoryBytes: 250 * mi}},
		{"tiny CPU limit: the least quota", nil, []corev1.Container{ctr(lim{"cpu": "1m", "memory": "8Mi"}, nil)},
			Limits{CPUShares: 2, CPUQuota: 1000, MemoryBytes: 8 * mi}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{InitContainers: tc.init, Containers: tc.apps}}
			if got := ForPod(pod, runtime.Node{}); got != tc.want {
				t.Errorf("ForPod = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestForPodTakesTheNodesCFSAndPidsSettings(t *testing.T) {
	guaranteed := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{ctr(lim{"cpu": "500m", "memory": "32Mi"}, nil)}}}
	bestEffort := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{ctr(nil, nil)}}}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		node runtime.Node
		want Limits
	}{
		{"podPidsLimit is the pod cgroup's pids limit", guaranteed, runtime.Node{PodPidsLimit: 1024},
			Limits{CPUShares: 512, CPUQuota: 50000, MemoryBytes: 32 * mi, Pids: 1024}},
		{"podPidsLimit holds for a BestEffort pod too", bestEffort, runtime.Node{PodPidsLimit: 1024}, Limits{CPUShares: 2, Pids: 1024}},
		{"cpuCFSQuota false sets no CPU quota", guaranteed, runtime.Node{CPUCFSQuotaOff: true}, Limits{CPUShares: 512, MemoryBytes: 32 * mi}},
		{"cpuCFSQuotaPeriod 10ms sets the period and the quota over it", guaranteed, runtime.Node{CPUCFSQuotaPeriod: 10 * time.Millisecond},
			Limits{CPUShares: 512, CPUQuota: 5000, CPUPeriod: 10000, MemoryBytes: 32 * mi}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ForPod(tc.pod, tc.node); got != tc.want {
				t.Errorf("ForPod = %+v, want %+v", got, tc.want)
			}
		})
	}
}
