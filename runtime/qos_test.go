package runtime

import (
	"fmt"
	"strings"
	"testing"
)

// qosPod is a pod with one app container "main" and one sidecar "side",
// each with the resources given (YAML flow maps).
const qosPod = `apiVersion: v1
kind: Pod
metadata: {name: q}
spec:
  PRIORITY
  initContainers:
  - {name: side, image: busybox:1.36, restartPolicy: Always, resources: SIDE}
  containers:
  - {name: main, image: busybox:1.36, resources: MAIN}
  - {name: other, image: busybox:1.36, resources: OTHER}
`

func TestOOMScoreAdj(t *testing.T) {
	const gi = 1 << 30
	guaranteed := "{limits: {cpu: 100m, memory: 64Mi}}"
	for _, tc := range []struct {
		name               string
		priority           string
		side, main, other  string
		capacity           int64
		wantMain, wantSide int64
	}{
		{"a pod without resources is BestEffort: 1000", "", "{}", "{}", "{}", gi, 1000, 1000},
		{"limits alone default the requests, so the pod is Guaranteed: -997", "", guaranteed, guaranteed, guaranteed, gi, -997, -997},
		{"a node-critical pod gets -997 whatever its QoS", "priorityClassName: system-node-critical", "{}", "{}", "{}", gi, -997, -997},
		{"a cluster-critical static pod is scored by its QoS", "priorityClassName: system-cluster-critical", "{}", "{}", "{}", gi, 1000, 1000},
		{"a Burstable container scores by its share of the machine's memory", "",
			"{requests: {memory: 512Mi}}", "{requests: {memory: 256Mi}}", "{requests: {memory: 768Mi}}", gi, 750, 500},
		{"a Burstable container without a memory request gets 999, never BestEffort's 1000", "",
			"{requests: {cpu: 1}}", "{requests: {cpu: 1}}", "{requests: {cpu: 1}}", gi, 999, 999},
		{"a Burstable container asking for all the memory still scores above Guaranteed", "",
			"{requests: {memory: 2Gi}}", "{requests: {memory: 2Gi}}", "{requests: {memory: 2Gi}}", gi, 3, 3},
		{"a sidecar scores no higher than the app container with the least memory", "",
			"{requests: {memory: 64Mi}}", "{requests: {memory: 512Mi}}", "{requests: {memory: 256Mi}}", gi, 500, 750},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := strings.NewReplacer("PRIORITY", tc.priority, "SIDE", tc.side, "MAIN", tc.main, "OTHER", tc.other).Replace(qosPod)
			sp := staticPod(t, y)
			node := testNode
			node.MemoryBytes = tc.capacity
			got := map[string]int64{}
			for _, c := range append(sp.Pod.Spec.InitContainers, sp.Pod.Spec.Containers...) {
				got[c.Name] = ContainerConfig(sp, &c, 0, node, ContainerExtras{}).Linux.Resources.OomScoreAdj
			}
			if got["main"] != tc.wantMain || got["side"] != tc.wantSide {
				t.Errorf("oom_score_adj %v, want main %d side %d", got, tc.wantMain, tc.wantSide)
			}
		})
	}
}

func TestQOSClass(t *testing.T) {
	for _, tc := range []struct {
		name, side, main, other string
		want                    string
	}{
		{"no resources anywhere is BestEffort", "{}", "{}", "{}", "BestEffort"},
		{"equal requests and limits of cpu and memory everywhere is Guaranteed", "{limits: {cpu: 1, memory: 1Gi}, requests: {cpu: 1, memory: 1Gi}}",
			"{limits: {cpu: 1, memory: 1Gi}}", "{limits: {cpu: 2, memory: 2Gi}}", "Guaranteed"},
		{"a memory limit without a cpu limit is Burstable", "{}", "{limits: {memory: 1Gi}}", "{}", "Burstable"},
		{"Guaranteed and BestEffort containers together are Burstable", "{}", "{limits: {cpu: 1, memory: 1Gi}}", "{limits: {cpu: 1, memory: 1Gi}}", "Burstable"},
		{"a request below its limit is Burstable", "{}", "{limits: {cpu: 1, memory: 1Gi}, requests: {cpu: 500m, memory: 1Gi}}", "{}", "Burstable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := strings.NewReplacer("PRIORITY", "", "SIDE", tc.side, "MAIN", tc.main, "OTHER", tc.other).Replace(qosPod)
			if got := QOSClass(staticPod(t, y).Pod); fmt.Sprint(got) != tc.want {
				t.Errorf("QoS class %s, want %s", got, tc.want)
			}
		})
	}
}
