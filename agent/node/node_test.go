package node

import (
	"context"
	"runtime"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

func TestRegistrationCreatesTheNodeAsTheKubeletDoesButWithRoomForNoPods(t *testing.T) {
	h := newHarness(t)
	h.start()
	n := h.registered()

	wantLabels := map[string]string{
		"kubernetes.io/hostname":   testNode,
		"kubernetes.io/os":         "linux",
		"kubernetes.io/arch":       runtime.GOARCH,
		"beta.kubernetes.io/os":    "linux",
		"beta.kubernetes.io/arch":  runtime.GOARCH,
		"node.kubernetes.io/bosun": "",
		"example.com/rack":         "r1",
	}
	for k, v := range wantLabels {
		if got, ok := n.Labels[k]; !ok || got != v {
			t.Errorf("label %s = %q (set: %v), want %q", k, got, ok, v)
		}
	}
	if got := n.Annotations["volumes.kubernetes.io/controller-managed-attach-detach"]; got != "true" {
		t.Errorf("controller-managed-attach-detach annotation = %q, want true", got)
	}
	if !n.Spec.Unschedulable {
		t.Errorf("the Node registers schedulable; bosun takes no pods from the API")
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "node-role.kubernetes.io/control-plane" {
		t.Errorf("taints = %+v, want the control-plane taint", n.Spec.Taints)
	}
	wantAddr := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.7"}, {Type: corev1.NodeHostName, Address: testNode}}
	if len(n.Status.Addresses) != 2 || n.Status.Addresses[0] != wantAddr[0] || n.Status.Addresses[1] != wantAddr[1] {
		t.Errorf("addresses = %+v, want %+v", n.Status.Addresses, wantAddr)
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != 0 {
		t.Errorf("kubelet endpoint port = %d, want 0", n.Status.DaemonEndpoints.KubeletEndpoint.Port)
	}
	capacity := map[corev1.ResourceName]string{
		corev1.ResourcePods:             "0",
		corev1.ResourceCPU:              "4",
		corev1.ResourceMemory:           "8Gi",
		corev1.ResourceEphemeralStorage: "100G",
		"hugepages-2Mi":                 "8Mi",
		"hugepages-1Gi":                 "0",
	}
	for name, want := range capacity {
		if q, ok := n.Status.Capacity[name]; !ok || q.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("capacity %s = %s (set: %v), want %s", name, q.String(), ok, want)
		}
	}
	allocatable := map[corev1.ResourceName]string{
		corev1.ResourcePods:   "0",
		corev1.ResourceCPU:    "4",
		corev1.ResourceMemory: "8184Mi",
		"hugepages-2Mi":       "8Mi",
	}
	for name, want := range allocatable {
		if q, ok := n.Status.Allocatable[name]; !ok || q.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("allocatable %s = %s (set: %v), want %s", name, q.String(), ok, want)
		}
	}
	wantInfo := corev1.NodeSystemInfo{
		MachineID:               "0123456789abcdef0123456789abcdef",
		SystemUUID:              "4c4c4544-0031-3510-8052-b7c04f4e3232",
		BootID:                  "9d1c1b4e-1111-2222-3333-444455556666",
		KernelVersion:           "6.8.0-45-generic",
		OSImage:                 "Ubuntu 24.04.1 LTS",
		ContainerRuntimeVersion: "containerd://1.6.20",
		KubeletVersion:          "v1.37.2",
		OperatingSystem:         "linux",
		Architecture:            runtime.GOARCH,
	}
	if n.Status.NodeInfo != wantInfo {
		t.Errorf("nodeInfo = %+v\nwant %+v", n.Status.NodeInfo, wantInfo)
	}
	r := ready(t, n)
	if r.Status != corev1.ConditionTrue || r.Reason != "KubeletReady" {
		t.Errorf("Ready = %s %s, want True KubeletReady", r.Status, r.Reason)
	}
	if len(n.Status.Conditions) != 1 {
		t.Errorf("conditions = %+v, want only Ready (bosun does no eviction)", n.Status.Conditions)
	}
	if uid, ok := h.c.NodeUID(); !ok || uid != n.UID {
		t.Errorf("NodeUID() = %q, %v; want %q", uid, ok, n.UID)
	}
}

func TestAnExistingNodeIsReconciledNotRecreated(t *testing.T) {
	existing := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: testNode,
			UID:  "existing-uid",
			Labels: map[string]string{
				"kubernetes.io/hostname":                "old-name",
				"node-role.kubernetes.io/control-plane": "",
				"example.com/rack":                      "r9",
			},
			Annotations: map[string]string{"kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock"},
		},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "kubeadm", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Capacity: corev1.ResourceList{"hugepages-32Mi": resource.MustParse("32Mi"), "example.com/gpu": resource.MustParse("1")},
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown"},
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionUnknown, Reason: "NodeStatusNeverUpdated"},
				{Type: "KernelDeadlock", Status: corev1.ConditionFalse, Reason: "KernelHasNoDeadlock"},
			},
		},
	}
	h := newHarness(t, existing)
	h.start()
	eventually(t, "the existing node is reconciled", func() bool {
		n := h.node()
		return n.Annotations["volumes.kubernetes.io/controller-managed-attach-detach"] == "true" &&
			n.Labels["kubernetes.io/hostname"] == testNode && readyStatus(&n.Status) == corev1.ConditionTrue
	})
	h.idle()
	n := h.node()
	if n.UID != "existing-uid" {
		t.Errorf("UID = %q, want the existing node's: it must not be recreated", n.UID)
	}
	if uid, _ := h.c.NodeUID(); uid != "existing-uid" {
		t.Errorf("NodeUID() = %q, want existing-uid", uid)
	}
	if n.Labels["example.com/rack"] != "r9" || n.Labels["node-role.kubernetes.io/control-plane"] != "" {
		t.Errorf("labels = %v: --node-labels outside the default ones are set at creation only, and others' labels stay", n.Labels)
	}
	if n.Annotations["kubeadm.alpha.kubernetes.io/cri-socket"] == "" {
		t.Errorf("annotations = %v: others' annotations must stay", n.Annotations)
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "kubeadm" {
		t.Errorf("taints = %+v: a node may not modify its taints", n.Spec.Taints)
	}
	if _, ok := n.Status.Capacity["hugepages-32Mi"]; ok {
		t.Errorf("capacity = %v: a huge page size the machine lacks must go", n.Status.Capacity)
	}
	if _, ok := n.Status.Capacity["example.com/gpu"]; !ok {
		t.Errorf("capacity = %v: resources bosun does not own must stay", n.Status.Capacity)
	}
	var types []corev1.NodeConditionType
	for _, c := range n.Status.Conditions {
		types = append(types, c.Type)
	}
	if len(types) != 2 || types[0] != corev1.NodeReady || types[1] != "KernelDeadlock" {
		t.Errorf("conditions = %v, want Ready and the problem detector's KernelDeadlock (stale MemoryPressure removed)", types)
	}
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "delete" && a.GetResource().Resource == "nodes" {
			t.Errorf("the node was deleted: %v", a)
		}
	}
}

func TestRuntimeGoingNotReadyFlipsReadyAtOnceAndMovesTheTransitionTimeOnlyThen(t *testing.T) {
	h := newHarness(t)
	h.start()
	registeredAt := ready(t, h.registered()).LastTransitionTime

	h.step(DefaultStatusUpdateFrequency * 2)
	if got := ready(t, h.node()).LastTransitionTime; !got.Equal(&registeredAt) {
		t.Fatalf("transition time moved to %v without a transition", got)
	}

	h.runtime.ready.Store(false)
	h.step(readyPoll)
	flippedAt := metav1.NewTime(h.clock.Now())
	r := ready(t, h.node())
	if r.Status != corev1.ConditionFalse || r.Reason != "KubeletNotReady" || r.Message != messageNotReady {
		t.Fatalf("Ready = %s %s %q, want False KubeletNotReady", r.Status, r.Reason, r.Message)
	}
	if !r.LastTransitionTime.Equal(&flippedAt) || !r.LastHeartbeatTime.Equal(&flippedAt) {
		t.Fatalf("transition %v heartbeat %v, want both %v", r.LastTransitionTime, r.LastHeartbeatTime, flippedAt)
	}

	h.step(DefaultStatusReportFrequency + time.Second)
	r = ready(t, h.node())
	if r.Status != corev1.ConditionFalse || !r.LastTransitionTime.Equal(&flippedAt) {
		t.Fatalf("Ready = %s since %v, want False since %v", r.Status, r.LastTransitionTime, flippedAt)
	}
	if r.LastHeartbeatTime.Equal(&flippedAt) {
		t.Fatalf("heartbeat %v not renewed after the report frequency", r.LastHeartbeatTime)
	}

	h.runtime.ready.Store(true)
	h.c.Wake()
	eventually(t, "Wake reports Ready at once", func() bool { return readyStatus(&h.node().Status) == corev1.ConditionTrue })
}

func TestUnchangedStatusIsNotPatchedAgainBeforeTheReportFrequency(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.registered()
	start := h.clock.Now()
	before := h.statusPatches()

	for h.clock.Since(start) < DefaultStatusReportFrequency-2*DefaultStatusUpdateFrequency {
		h.step(DefaultStatusUpdateFrequency * 11 / 10)
	}
	if got := h.statusPatches(); got != before {
		t.Fatalf("%d status patches before the report frequency passed, want none", got-before)
	}

	h.step(3 * DefaultStatusUpdateFrequency)
	if got := h.statusPatches(); got != before+1 {
		t.Fatalf("%d status patches once the report frequency passed, want 1", got-before)
	}
	hb := ready(t, h.node()).LastHeartbeatTime
	if now := metav1.NewTime(h.clock.Now()); !hb.Equal(&now) {
		t.Fatalf("heartbeat %v, want %v", hb, now)
	}
}

func TestAChangedStatusIsPatchedAtTheNextUpdate(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.registered()
	before := h.statusPatches()
	writeFile(t, h.c.host.root, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "8\n")

	h.step(DefaultStatusUpdateFrequency * 11 / 10)
	if got := h.statusPatches(); got != before+1 {
		t.Fatalf("%d status patches after a change, want 1", got-before)
	}
	if q := h.node().Status.Capacity["hugepages-2Mi"]; q.Cmp(resource.MustParse("16Mi")) != 0 {
		t.Fatalf("hugepages-2Mi = %s, want 16Mi", q.String())
	}
}

func TestADeletedNodeIsRegisteredAgain(t *testing.T) {
	h := newHarness(t)
	h.start()
	first := h.registered()
	if err := h.client.CoreV1().Nodes().Delete(context.Background(), testNode, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	h.step(DefaultStatusUpdateFrequency * 11 / 10)
	n := h.node()
	if n == nil {
		t.Fatal("the deleted node was not registered again at the next status update")
	}
	if n.UID == first.UID {
		t.Fatalf("UID %q unchanged: the node was not recreated", n.UID)
	}
	if uid, _ := h.c.NodeUID(); uid != n.UID {
		t.Fatalf("NodeUID() = %q, want the new node's %q", uid, n.UID)
	}
	if len(n.Spec.Taints) != 1 || ready(t, n).Status != corev1.ConditionTrue {
		t.Fatalf("the recreated node lacks its taints or Ready: %+v", n)
	}
}

func TestServiceUnavailableIsRetriedWithBackoffAndLoggedOnce(t *testing.T) {
	h := newHarness(t)
	failures := 6
	h.client.PrependReactor("create", "nodes", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		if failures == 0 {
			return false, nil, nil
		}
		failures--
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	h.start()
	for i := 0; h.node() == nil; i++ {
		if i > 100 {
			t.Fatal("the node was never registered")
		}
		h.step(8 * time.Second)
	}
	if got := h.logs.count("cannot register or update the node"); got != 1 {
		t.Fatalf("the failure was logged %d times, want once:\n%s", got, h.logs)
	}
	if got := h.logs.count("node status is reported again"); got != 1 {
		t.Fatalf("the recovery was logged %d times, want once:\n%s", got, h.logs)
	}
}

func TestTheLeaseIsOwnedByTheNodeAndRenewed(t *testing.T) {
	h := newHarness(t)
	h.start()
	n := h.registered()
	leases := h.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	var l *coordinationv1.Lease
	eventually(t, "the lease exists", func() bool {
		var err error
		l, err = leases.Get(context.Background(), testNode, metav1.GetOptions{})
		return err == nil
	})
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != testNode {
		t.Errorf("holder = %v, want %s", l.Spec.HolderIdentity, testNode)
	}
	if l.Spec.LeaseDurationSeconds == nil || *l.Spec.LeaseDurationSeconds != 40 {
		t.Errorf("duration = %v, want 40", l.Spec.LeaseDurationSeconds)
	}
	if len(l.OwnerReferences) != 1 || l.OwnerReferences[0].Kind != "Node" || l.OwnerReferences[0].APIVersion != "v1" ||
		l.OwnerReferences[0].Name != testNode || l.OwnerReferences[0].UID != n.UID {
		t.Errorf("owner references = %+v, want the Node %s (%s)", l.OwnerReferences, testNode, n.UID)
	}

	h.clock.Step(10 * time.Second)
	now := h.clock.Now()
	eventually(t, "the lease is renewed", func() bool {
		l, err := leases.Get(context.Background(), testNode, metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.Time.Equal(now)
	})
}

func TestTheLeaseIsNotCreatedBeforeTheNodeIsRegistered(t *testing.T) {
	h := newHarness(t)
	h.client.PrependReactor("create", "nodes", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	h.start()
	eventually(t, "the lease controller tried", func() bool {
		for _, a := range h.client.Actions() {
			if a.GetResource().Resource == "leases" && a.GetVerb() == "get" {
				return true
			}
		}
		return false
	})
	for _, a := range h.client.Actions() {
		if a.GetResource().Resource == "leases" && a.GetVerb() == "create" {
			t.Fatalf("a lease was created without its owner Node: %v", a)
		}
	}
}

func TestAFailedStatusPatchIsLoggedOnceWithTheAPIAnswerNotThePatch(t *testing.T) {
	h := newHarness(t)
	// The reactor is in place before the controller runs: the fake
	// clientset's reactor chain is not safe to change while it is used.
	failing := false
	var mu stdsync.Mutex
	h.client.PrependReactor("patch", "nodes", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if !failing {
			return false, nil, nil
		}
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	h.start()
	h.registered()
	mu.Lock()
	failing = true
	mu.Unlock()
	h.runtime.ready.Store(false)
	for range 5 {
		h.step(8 * time.Second)
	}
	if got := h.logs.count("etcd is down"); got != 1 {
		t.Fatalf("the failed patch was logged %d times, want once:\n%s", got, h.logs)
	}
	if strings.Contains(h.logs.String(), "conditions") {
		t.Fatalf("the log quotes the patch:\n%s", h.logs)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	h.step(8 * time.Second)
	if readyStatus(&h.node().Status) != corev1.ConditionFalse {
		t.Fatal("the not-ready status was not reported once the API answered")
	}
}
