package node

import (
	"net"
	"runtime"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Ready condition reasons and messages. The reasons are the kubelet's, which
// tools match on.
const (
	reasonReady        = "KubeletReady"
	reasonNotReady     = "KubeletNotReady"
	messageReady       = "bosun is posting ready status"
	messageNotReady    = "container runtime is down or bosun's first sync is not done"
	messageMissingBase = "missing node capacity for resources: "
)

// unreportedConditions are the kubelet's eviction conditions. bosun does no
// eviction, so it has nothing true to say about them; it removes them when the
// node lifecycle controller left them Unknown after an outage.
var unreportedConditions = []corev1.NodeConditionType{
	corev1.NodeMemoryPressure,
	corev1.NodeDiskPressure,
	corev1.NodePIDPressure,
}

// statusInput is everything the Node's status is computed from.
type statusInput struct {
	machine        machine
	nodeIP         string
	hostname       string
	runtimeVersion string
	kubeletVersion string
	ready          bool
	now            time.Time
}

// applyStatus sets on node everything bosun reports in its status: addresses,
// capacity and allocatable (pods 0, so the scheduler places nothing here),
// nodeInfo, the daemon endpoint (port 0: bosun serves no kubelet API) and the
// Ready condition. Fields bosun does not own are left as they are.
func applyStatus(node *corev1.Node, in statusInput) {
	node.Status.Addresses = addresses(in.nodeIP, in.hostname)
	applyCapacity(&node.Status, in.machine)
	applyNodeInfo(&node.Status.NodeInfo, in)
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = 0
	node.Status.Conditions = slices.DeleteFunc(node.Status.Conditions, func(c corev1.NodeCondition) bool {
		return slices.Contains(unreportedConditions, c.Type)
	})
	setReady(&node.Status, readyCondition(&node.Status, in.ready, in.now))
}

// addresses returns the node's InternalIP (when nodeIP is an IP) and Hostname.
func addresses(nodeIP, hostname string) []corev1.NodeAddress {
	var a []corev1.NodeAddress
	if ip := net.ParseIP(nodeIP); ip != nil && !ip.IsUnspecified() {
		a = append(a, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip.String()})
	}
	if hostname != "" {
		a = append(a, corev1.NodeAddress{Type: corev1.NodeHostName, Address: hostname})
	}
	return a
}

// applyCapacity sets capacity and allocatable of what bosun measured, pods 0,
// and removes huge page sizes the machine no longer has; allocatable memory
// excludes the huge pages, as the kubelet's.
func applyCapacity(st *corev1.NodeStatus, m machine) {
	if st.Capacity == nil {
		st.Capacity = corev1.ResourceList{}
	}
	if st.Allocatable == nil {
		st.Allocatable = corev1.ResourceList{}
	}
	if m.hugepagesKnown {
		for name := range st.Capacity {
			if isHugePages(name) {
				if _, ok := m.capacity[name]; !ok {
					delete(st.Capacity, name)
					delete(st.Allocatable, name)
				}
			}
		}
	}
	for name, q := range m.capacity {
		st.Capacity[name] = q.DeepCopy()
	}
	st.Capacity[corev1.ResourcePods] = *resource.NewQuantity(0, resource.DecimalSI)
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourcePods} {
		if q, ok := st.Capacity[name]; ok {
			st.Allocatable[name] = q.DeepCopy()
		}
	}
	for name, q := range st.Capacity {
		if !isHugePages(name) {
			continue
		}
		st.Allocatable[name] = q.DeepCopy()
		if mem, ok := st.Allocatable[corev1.ResourceMemory]; ok {
			mem.Sub(q)
			if mem.Sign() < 0 {
				mem.Set(0)
			}
			st.Allocatable[corev1.ResourceMemory] = mem
		}
	}
}

// isHugePages says whether name is a hugepages-<size> resource.
func isHugePages(name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

// applyNodeInfo sets the nodeInfo bosun knows; an identity it could not read
// keeps the value the Node has.
func applyNodeInfo(info *corev1.NodeSystemInfo, in statusInput) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&info.MachineID, in.machine.machineID)
	set(&info.SystemUUID, in.machine.systemUUID)
	set(&info.BootID, in.machine.bootID)
	set(&info.KernelVersion, in.machine.kernelVersion)
	set(&info.OSImage, in.machine.osImage)
	info.ContainerRuntimeVersion = cleanInfo(in.runtimeVersion)
	info.KubeletVersion = cleanInfo(in.kubeletVersion)
	info.KubeProxyVersion = "" //nolint:staticcheck // the kubelet empties the deprecated field too: bosun runs no kube-proxy
	info.OperatingSystem = runtime.GOOS
	info.Architecture = runtime.GOARCH
}

// readyCondition returns the Ready condition for the status st now has: True
// when the runtime is ready and the capacity the scheduler needs is known,
// its transition time kept while its status stays, its heartbeat now.
func readyCondition(st *corev1.NodeStatus, ready bool, now time.Time) corev1.NodeCondition {
	t := metav1.NewTime(now)
	c := corev1.NodeCondition{
		Type:               corev1.NodeReady,
		Status:             corev1.ConditionTrue,
		Reason:             reasonReady,
		Message:            messageReady,
		LastHeartbeatTime:  t,
		LastTransitionTime: t,
	}
	var missing []string
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods} {
		if _, ok := st.Capacity[name]; !ok {
			missing = append(missing, string(name))
		}
	}
	switch {
	case !ready:
		c.Status, c.Reason, c.Message = corev1.ConditionFalse, reasonNotReady, messageNotReady
	case len(missing) > 0:
		c.Status, c.Reason, c.Message = corev1.ConditionFalse, reasonNotReady, messageMissingBase+strings.Join(missing, ", ")
	}
	for _, old := range st.Conditions {
		if old.Type == corev1.NodeReady && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
	}
	return c
}

// setReady replaces the Ready condition of st with c, or appends it.
func setReady(st *corev1.NodeStatus, c corev1.NodeCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.NodeReady {
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

// readyStatus returns the status of st's Ready condition, or Unknown.
func readyStatus(st *corev1.NodeStatus) corev1.ConditionStatus {
	for _, c := range st.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

// statusChanged says whether after differs from before in anything but the
// conditions' heartbeat times, in its status or its labels.
func statusChanged(before, after *corev1.Node) bool {
	return !apiequality.Semantic.DeepEqual(withoutHeartbeats(before), withoutHeartbeats(after))
}

// withoutHeartbeats returns the labels and status of n with every condition's
// heartbeat time cleared and the conditions sorted by type.
func withoutHeartbeats(n *corev1.Node) any {
	st := n.Status.DeepCopy()
	for i := range st.Conditions {
		st.Conditions[i].LastHeartbeatTime = metav1.Time{}
	}
	slices.SortStableFunc(st.Conditions, func(a, b corev1.NodeCondition) int {
		return strings.Compare(string(a.Type), string(b.Type))
	})
	return struct {
		Labels map[string]string
		Status *corev1.NodeStatus
	}{n.Labels, st}
}
