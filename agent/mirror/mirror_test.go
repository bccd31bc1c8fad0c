package mirror

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/sync"
)

func TestADesiredStaticPodGetsAMirrorPodWithTheKubeletsAnnotationsLabelsAndOwner(t *testing.T) {
	h := newHarness(t)
	sp := staticPod(t, "etcd", "registry.k8s.io/etcd:3.6.0")
	h.desired.set(true, sp)
	h.eventually("the mirror pod exists", func() bool { return h.get("kube-system", "etcd-cp-1") != nil })
	p := h.get("kube-system", "etcd-cp-1")
	want := map[string]string{
		"kubernetes.io/config.hash":                        sp.UID,
		"kubernetes.io/config.mirror":                      sp.UID,
		"kubernetes.io/config.source":                      "file",
		"bosun.dev/spec-hash":                              sp.Hash,
		"kubeadm.kubernetes.io/etcd.advertise-client-urls": "https://10.0.0.1:2379",
	}
	for k, v := range want {
		if p.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, p.Annotations[k], v)
		}
	}
	if seen, err := time.Parse(time.RFC3339Nano, p.Annotations["kubernetes.io/config.seen"]); err != nil || !seen.Equal(h.clock.Now()) {
		t.Errorf("config.seen = %q (%v), want the time bosun first saw it, %s", p.Annotations["kubernetes.io/config.seen"], err, h.clock.Now())
	}
	if p.Labels["component"] != "etcd" || p.Labels["tier"] != "control-plane" {
		t.Errorf("labels = %v, want the manifest's", p.Labels)
	}
	if p.Spec.NodeName != testNode {
		t.Errorf("nodeName = %q, want %q", p.Spec.NodeName, testNode)
	}
	if len(p.OwnerReferences) != 1 {
		t.Fatalf("ownerReferences = %v, want one to the Node", p.OwnerReferences)
	}
	o := p.OwnerReferences[0]
	if o.APIVersion != "v1" || o.Kind != "Node" || o.Name != testNode || o.UID != testNodeUID || o.Controller == nil || !*o.Controller || o.BlockOwnerDeletion != nil {
		t.Errorf("owner reference = %+v, want the controller reference to Node %s", o, testNode)
	}
	if !slices.ContainsFunc(p.Spec.Tolerations, func(tl corev1.Toleration) bool {
		return tl.Operator == corev1.TolerationOpExists && tl.Effect == corev1.TaintEffectNoExecute && tl.Key == ""
	}) {
		t.Errorf("tolerations = %v, want the kubelet's NoExecute toleration of static pods", p.Spec.Tolerations)
	}
	h.eventually("Ref names the mirror pod", func() bool {
		ref, ok := h.c.Ref("kube-system/etcd-cp-1")
		return ok && ref.UID == p.UID && ref.Kind == "Pod" && ref.Name == "etcd-cp-1" && ref.Namespace == "kube-system"
	})
}

func TestNoMirrorPodIsCreatedBeforeTheNodesUIDIsKnown(t *testing.T) {
	h := newHarness(t)
	h.node.uid = ""
	h.desired.set(true, staticPod(t, "etcd", "etcd:1"))
	h.settle()
	if n := h.count("create", ""); n != 0 {
		t.Fatalf("%d creates before the Node's UID is known, want none", n)
	}
	h.node.mu.Lock()
	h.node.uid = testNodeUID
	h.node.mu.Unlock()
	h.eventually("the mirror pod exists", func() bool { return h.get("kube-system", "etcd-cp-1") != nil })
}

func TestAHashChangeReplacesTheMirrorPodWithANewUID(t *testing.T) {
	h := newHarness(t)
	h.desired.set(true, staticPod(t, "etcd", "etcd:1"))
	h.eventually("the mirror pod exists", func() bool { return h.get("kube-system", "etcd-cp-1") != nil })
	old := h.get("kube-system", "etcd-cp-1")
	sp := staticPod(t, "etcd", "etcd:2")
	h.desired.set(true, sp)
	h.eventually("the mirror pod is replaced", func() bool {
		p := h.get("kube-system", "etcd-cp-1")
		return p != nil && p.UID != old.UID
	})
	p := h.get("kube-system", "etcd-cp-1")
	if p.Annotations[AnnotationConfigHash] != sp.UID || p.Spec.Containers[0].Image != "etcd:2" {
		t.Errorf("new mirror pod has hash %s and image %s, want %s and etcd:2", p.Annotations[AnnotationConfigHash], p.Spec.Containers[0].Image, sp.UID)
	}
	for _, a := range h.client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok {
			if pre := d.GetDeleteOptions().Preconditions; pre == nil || pre.UID == nil || *pre.UID != old.UID {
				t.Errorf("delete without the old pod's UID as precondition: %+v", d.GetDeleteOptions())
			}
		}
	}
}

func TestAPodADeleteSaidWasGoneButIsThereIsDeletedAgain(t *testing.T) {
	// A kube-apiserver that has just started may answer a delete with Not
	// Found while the pod is still there (seen in the HA e2e test, right
	// after a replaced kube-apiserver came back): the create that follows
	// gets AlreadyExists, and the pod must not stay taken as deleted.
	var lied atomic.Bool
	h := newHarnessReacting(t, "delete", func(k8stesting.Action) (bool, runtime.Object, error) {
		if lied.CompareAndSwap(false, true) {
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "etcd-cp-1")
		}
		return false, nil, nil
	})
	h.desired.set(true, staticPod(t, "etcd", "etcd:1"))
	h.eventually("the mirror pod exists", func() bool { return h.get("kube-system", "etcd-cp-1") != nil })
	sp := staticPod(t, "etcd", "etcd:2")
	h.desired.set(true, sp)
	h.eventually("the mirror pod is replaced", func() bool {
		p := h.get("kube-system", "etcd-cp-1")
		return p != nil && p.Annotations[AnnotationConfigHash] == sp.UID
	})
	if !lied.Load() {
		t.Fatal("the first delete did not go through the reactor")
	}
}

func TestAMirrorPodDeletedByAUserComesBack(t *testing.T) {
	h := newHarness(t)
	h.desired.set(true, staticPod(t, "etcd", "etcd:1"))
	h.eventually("the mirror pod exists", func() bool { return h.get("kube-system", "etcd-cp-1") != nil })
	old := h.get("kube-system", "etcd-cp-1")
	if err := h.client.CoreV1().Pods("kube-system").Delete(context.Background(), "etcd-cp-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the mirror pod is back", func() bool {
		p := h.get("kube-system", "etcd-cp-1")
		return p != nil && p.UID != old.UID
	})
}

func TestAMirrorPodBeingDeletedGracefullyIsDeletedAtOnceAndComesBack(t *testing.T) {
	h := newHarness(t)
	h.desired.set(true, staticPod(t, "etcd", "etcd:1"))
	h.eventually("the mirror pod exists", func() bool { return h.get("kube-system", "etcd-cp-1") != nil })
	old := h.get("kube-system", "etcd-cp-1")
	now := metav1.Now()
	old.DeletionTimestamp = &now
	if _, err := h.client.CoreV1().Pods("kube-system").Update(context.Background(), old, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("a new mirror pod replaces the terminating one", func() bool {
		p := h.get("kube-system", "etcd-cp-1")
		return p != nil && p.UID != old.UID && p.DeletionTimestamp == nil
	})
}

func TestARemovedManifestDeletesItsMirrorPod(t *testing.T) {
	h := newHarness(t)
	h.desired.set(true, staticPod(t, "etcd", "etcd:1"), staticPod(t, "kube-scheduler", "sched:1"))
	h.eventually("both mirror pods exist", func() bool {
		return h.get("kube-system", "etcd-cp-1") != nil && h.get("kube-system", "kube-scheduler-cp-1") != nil
	})
	h.desired.set(true, staticPod(t, "kube-scheduler", "sched:1"))
	h.eventually("the etcd mirror pod is gone", func() bool { return h.get("kube-system", "etcd-cp-1") == nil })
	if h.get("kube-system", "kube-scheduler-cp-1") == nil {
		t.Fatal("the scheduler's mirror pod was deleted too")
	}
}

func TestAnOrphanMirrorPodIsDeletedAndAPodOfAnotherNodeIsNot(t *testing.T) {
	regular := foreignMirror("web", testNode)
	regular.Annotations = nil // not a mirror pod: not bosun's
	h := newHarness(t, foreignMirror("old-cp-1", testNode), foreignMirror("etcd-cp-2", "cp-2"), regular)
	h.eventually("the orphan is gone", func() bool { return h.get("kube-system", "old-cp-1") == nil })
	h.settle()
	if h.get("kube-system", "etcd-cp-2") == nil {
		t.Error("the mirror pod of another node was deleted")
	}
	if h.get("kube-system", "web") == nil {
		t.Error("a pod that is not a mirror pod was deleted")
	}
}

func TestNothingIsTouchedWhileTheManifestDirectoryIsUnavailable(t *testing.T) {
	h := newHarness(t, foreignMirror("old-cp-1", testNode))
	h.desired.set(false, staticPod(t, "etcd", "etcd:1"))
	h.settle()
	if w := h.writes(); len(w) != 0 {
		t.Fatalf("writes while the manifest directory is unavailable: %v", w)
	}
}

func TestARestartWithACorrectMirrorPodMakesNoWrite(t *testing.T) {
	h := newHarness(t)
	sp := staticPod(t, "etcd", "etcd:1")
	h.desired.set(true, sp)
	h.status.set(runningStatus(sp))
	h.eventually("the mirror pod runs", func() bool {
		p := h.get("kube-system", "etcd-cp-1")
		return p != nil && p.Status.Phase == corev1.PodRunning
	})
	h.settle()
	before := h.get("kube-system", "etcd-cp-1")
	h.stop()
	h.client.ClearActions()
	h.clock.Step(time.Hour) // bosun comes back much later
	h.start()
	h.settle()
	if w := h.writes(); len(w) != 0 {
		t.Fatalf("a restarted bosun wrote %v, want nothing", w)
	}
	after := h.get("kube-system", "etcd-cp-1")
	if after.UID != before.UID || after.ResourceVersion != before.ResourceVersion {
		t.Errorf("mirror pod changed from %s@%s to %s@%s", before.UID, before.ResourceVersion, after.UID, after.ResourceVersion)
	}
}

// runningStatus is the loop's status of sp running, with one restart.
func runningStatus(sp *manifest.StaticPod) sync.PodStatus {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	return sync.PodStatus{Namespace: sp.Namespace, Name: sp.Name, UID: sp.UID, Hash: sp.Hash, RunningHash: sp.Hash,
		Phase: "Running", Reason: "Running", SandboxID: "sb1", HostNetwork: true, Created: t0,
		Containers: []sync.ContainerStatus{{Name: "etcd", ID: "c0ffee", Image: "etcd:1", State: "Running", StartedAt: t0.Add(time.Minute),
			RestartCount: 2, Ready: true,
			LastTermination: &sync.Termination{ExitCode: 137, Reason: "Error", StartedAt: t0.Add(10 * time.Second), FinishedAt: t0.Add(50 * time.Second)}}}}
}

func TestTheStatusReadsAsKubectlWouldShowIt(t *testing.T) {
	h := newHarness(t)
	sp := staticPod(t, "etcd", "etcd:1")
	h.desired.set(true, sp)
	h.status.set(runningStatus(sp))
	h.eventually("the mirror pod runs", func() bool {
		p := h.get("kube-system", "etcd-cp-1")
		return p != nil && p.Status.Phase == corev1.PodRunning
	})
	st := h.get("kube-system", "etcd-cp-1").Status
	if !hasCondition(st, corev1.PodReady, corev1.ConditionTrue) || !hasCondition(st, corev1.ContainersReady, corev1.ConditionTrue) ||
		!hasCondition(st, corev1.PodInitialized, corev1.ConditionTrue) || !hasCondition(st, corev1.PodScheduled, corev1.ConditionTrue) ||
		!hasCondition(st, corev1.PodReadyToStartContainers, corev1.ConditionTrue) {
		t.Errorf("conditions = %+v, want all True", st.Conditions)
	}
	if st.HostIP != testNodeIP || st.PodIP != testNodeIP || len(st.PodIPs) != 1 || len(st.HostIPs) != 1 {
		t.Errorf("hostIP %q podIP %q podIPs %v, want the node IP for a hostNetwork pod", st.HostIP, st.PodIP, st.PodIPs)
	}
	if st.StartTime == nil || !st.StartTime.Time.Equal(time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("startTime = %v, want the sandbox's creation", st.StartTime)
	}
	if st.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("qosClass = %q, want Burstable", st.QOSClass)
	}
	if len(st.ContainerStatuses) != 1 {
		t.Fatalf("containerStatuses = %+v", st.ContainerStatuses)
	}
	c := st.ContainerStatuses[0]
	if c.ContainerID != "containerd://c0ffee" || c.RestartCount != 2 || !c.Ready || c.Started == nil || !*c.Started || c.State.Running == nil {
		t.Errorf("container status = %+v", c)
	}
	if lt := c.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 137 || lt.Reason != "Error" {
		t.Errorf("lastState.terminated = %+v, want exit 137 Error", lt)
	}
}

func TestTheOldPodsStatusIsNotPostedOnTheNewMirrorPod(t *testing.T) {
	h := newHarness(t)
	old := staticPod(t, "etcd", "etcd:1")
	sp := staticPod(t, "etcd", "etcd:2")
	h.desired.set(true, sp)
	ps := runningStatus(old)
	ps.Hash, ps.UID = sp.Hash, sp.UID // the loop wants the new one, the old one still runs
	h.status.set(ps)
	h.eventually("the mirror pod has a status", func() bool {
		p := h.get("kube-system", "etcd-cp-1")
		return p != nil && len(p.Status.ContainerStatuses) == 1
	})
	st := h.get("kube-system", "etcd-cp-1").Status
	c := st.ContainerStatuses[0]
	if st.Phase != corev1.PodPending || c.State.Waiting == nil || c.State.Waiting.Reason != "ContainerCreating" || c.ContainerID != "" || c.Image != "etcd:2" {
		t.Errorf("status = %s %+v, want Pending with etcd:2 ContainerCreating", st.Phase, c)
	}
	if !hasCondition(st, corev1.PodReady, corev1.ConditionFalse) {
		t.Errorf("conditions = %+v, want Ready False", st.Conditions)
	}
}

func TestAnUnchangedStatusIsNotPatchedAgain(t *testing.T) {
	h := newHarness(t)
	sp := staticPod(t, "etcd", "etcd:1")
	h.desired.set(true, sp)
	h.status.set(runningStatus(sp))
	h.eventually("the mirror pod runs", func() bool {
		p := h.get("kube-system", "etcd-cp-1")
		return p != nil && p.Status.Phase == corev1.PodRunning
	})
	h.settle()
	n := h.count("patch", "status")
	h.settle()
	if m := h.count("patch", "status"); m != n {
		t.Fatalf("%d status patches of an unchanged status, want none", m-n)
	}
	ps := runningStatus(sp)
	ps.Containers[0].RestartCount = 3
	h.status.set(ps)
	h.eventually("the new restart count is posted", func() bool {
		return h.get("kube-system", "etcd-cp-1").Status.ContainerStatuses[0].RestartCount == 3
	})
	for _, a := range h.client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && p.GetSubresource() == "status" {
			if !strings.Contains(string(p.GetPatch()), `"uid":`) {
				t.Errorf("status patch %s lacks the UID precondition", p.GetPatch())
			}
		}
	}
}

func TestAStatusIsPatchedAtMostOncePerPeriod(t *testing.T) {
	h := newHarness(t)
	sp := staticPod(t, "etcd", "etcd:1")
	h.desired.set(true, sp)
	h.status.set(runningStatus(sp))
	h.eventually("the mirror pod runs", func() bool {
		p := h.get("kube-system", "etcd-cp-1")
		return p != nil && p.Status.Phase == corev1.PodRunning
	})
	n := h.count("patch", "status")
	for i := range 10 {
		ps := runningStatus(sp)
		ps.Containers[0].RestartCount = uint32(10 + i)
		h.status.set(ps)
		h.step()
	}
	if m := h.count("patch", "status"); m != n {
		t.Fatalf("%d status patches without time passing, want none within one period", m-n)
	}
}

func TestACreateRefusedWith403IsLoggedOnceAndShownInProblems(t *testing.T) {
	var refuse atomic.Bool
	refuse.Store(true)
	h := newHarnessReacting(t, "create", func(k8stesting.Action) (bool, runtime.Object, error) {
		if !refuse.Load() {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "etcd-cp-1",
			errorString(`node "cp-1" can only create pods with an owner reference set to itself`))
	})
	h.desired.set(true, staticPod(t, "etcd", "etcd:1"))
	h.settle()
	if n := h.count("create", ""); n != 1 {
		t.Errorf("%d creates within a minute of a refusal, want 1", n)
	}
	if n := h.logs.count("mirror pod refused by the API server"); n != 1 {
		t.Errorf("refusal logged %d times, want once", n)
	}
	p := h.c.Problems()["kube-system/etcd-cp-1"]
	if !strings.Contains(p, "owner reference set to itself") {
		t.Errorf("Problems = %v, want the refusal", h.c.Problems())
	}
	h.clock.Step(RejectRetry)
	h.settle()
	if n := h.count("create", ""); n != 2 {
		t.Errorf("%d creates after %s, want a second try", n, RejectRetry)
	}
	if n := h.logs.count("mirror pod refused by the API server"); n != 1 {
		t.Errorf("refusal logged %d times, want once per version", n)
	}
	refuse.Store(false)
	h.desired.set(true, staticPod(t, "etcd", "etcd:2"))
	h.eventually("a new version is tried at once and accepted", func() bool { return h.get("kube-system", "etcd-cp-1") != nil })
	if len(h.c.Problems()) != 0 {
		t.Errorf("Problems = %v after success, want none", h.c.Problems())
	}
}

func TestAPIErrorsAreRetriedWithBackoff(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	h := newHarnessReacting(t, "create", func(k8stesting.Action) (bool, runtime.Object, error) {
		if fail.Load() {
			return true, nil, apierrors.NewServiceUnavailable("etcd is down")
		}
		return false, nil, nil
	})
	h.desired.set(true, staticPod(t, "etcd", "etcd:1"))
	for range 5 {
		h.step()
	}
	if n := h.count("create", ""); n != 1 {
		t.Errorf("%d creates without time passing, want 1 (backoff)", n)
	}
	if n := h.logs.count("mirror pod call failed, retrying"); n != 1 {
		t.Errorf("failure logged %d times, want once", n)
	}
	fail.Store(false)
	h.eventually("the mirror pod exists", func() bool { return h.get("kube-system", "etcd-cp-1") != nil })
}

func hasCondition(st corev1.PodStatus, t corev1.PodConditionType, s corev1.ConditionStatus) bool {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status == s
		}
	}
	return false
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestRunCreatesTheMirrorPodsAndReturnsWhenItsContextEnds(t *testing.T) {
	h := newHarness(t)
	h.stop()
	c := h.newController()
	h.desired.set(true, staticPod(t, "etcd", "etcd:1"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Run(ctx)
		close(done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for h.get("kube-system", "etcd-cp-1") == nil {
		if time.Now().After(deadline) {
			t.Fatal("Run made no mirror pod")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestADualStackNodeIPGivesTwoHostIPs(t *testing.T) {
	sp := staticPod(t, "etcd", "etcd:1")
	pod := mirrorPod(sp, testNode, testNodeUID, time.Now())
	ps := runningStatus(sp)
	st := podStatus(statusInput{pod: pod, ps: &ps, hash: sp.Hash, nodeIP: "10.0.0.1,fd00::1", now: time.Now()})
	if st.HostIP != "10.0.0.1" || len(st.HostIPs) != 2 || st.HostIPs[1].IP != "fd00::1" || len(st.PodIPs) != 2 || st.PodIP != "10.0.0.1" {
		t.Errorf("hostIP %q hostIPs %v podIP %q podIPs %v, want both node IPs", st.HostIP, st.HostIPs, st.PodIP, st.PodIPs)
	}
}

func TestTheMirrorPodsWatchIsCutShortSoThatItNeverHoldsAnAPIServerThatShutsDown(t *testing.T) {
	ten := int64(600)
	watch := metav1.ListOptions{TimeoutSeconds: &ten}
	tweak(&watch, "spec.nodeName=n1")
	if watch.FieldSelector != "spec.nodeName=n1" || watch.TimeoutSeconds == nil || *watch.TimeoutSeconds != 2 {
		t.Errorf("watch options %+v: want this node's pods for 2 s", watch)
	}
	list := metav1.ListOptions{}
	tweak(&list, "spec.nodeName=n1")
	if list.FieldSelector != "spec.nodeName=n1" || list.TimeoutSeconds != nil {
		t.Errorf("list options %+v: want this node's pods, no timeout", list)
	}
}

func TestARestartedBosunWithoutProbeResultsYetDoesNotPostRunningContainersAsUnready(t *testing.T) {
	h := newHarness(t)
	sp := staticPod(t, "apiserver", "apiserver:1")
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
	sp.Pod.Spec.Containers[0].StartupProbe, sp.Pod.Spec.Containers[0].ReadinessProbe = probe, probe
	probed := runningStatus(sp)
	probed.Containers[0].Name = "apiserver"
	last := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	probed.Containers[0].Probes = []sync.ProbeResult{{Kind: "startup", Success: true, Last: last}, {Kind: "readiness", Success: true, Last: last}}
	h.desired.set(true, sp)
	h.status.set(probed)
	h.eventually("the mirror pod is ready", func() bool {
		p := h.get("kube-system", "apiserver-cp-1")
		return p != nil && hasCondition(p.Status, corev1.PodReady, corev1.ConditionTrue)
	})
	h.settle()
	h.stop()
	h.client.ClearActions()
	// The restarted bosun adopts the running container and has probed
	// nothing yet: the loop says it is not ready.
	unknown := probed
	unknown.Containers = append([]sync.ContainerStatus(nil), probed.Containers...)
	unknown.Containers[0].Ready, unknown.Containers[0].Probes = false, nil
	h.status.set(unknown)
	h.start()
	h.settle()
	if w := h.writes(); len(w) != 0 {
		t.Fatalf("a restarted bosun without probe results wrote %v, want nothing", w)
	}
	// A readiness probe that fails is posted.
	failed := unknown
	failed.Containers = append([]sync.ContainerStatus(nil), unknown.Containers...)
	failed.Containers[0].Probes = []sync.ProbeResult{{Kind: "startup", Success: true, Last: last}, {Kind: "readiness", Success: false, Last: last.Add(time.Hour)}}
	h.status.set(failed)
	h.eventually("the failed readiness probe to be posted", func() bool {
		p := h.get("kube-system", "apiserver-cp-1")
		return p != nil && hasCondition(p.Status, corev1.PodReady, corev1.ConditionFalse) && !p.Status.ContainerStatuses[0].Ready
	})
}

func TestAFailingCallIsTriedAgainWithinSecondsOfTheAPIServersReturnHoweverLongItWasAway(t *testing.T) {
	b := newBackoff()
	var longest time.Duration
	for range 40 { // 40 failures: minutes without an API server
		longest = max(longest, b.Step())
	}
	if longest > MaxBackoff*6/5 || MaxBackoff > 5*time.Second {
		t.Errorf("a failed mirror pod call waits up to %v before its next try, want at most 5 s (+20 %% jitter)", longest)
	}
}
