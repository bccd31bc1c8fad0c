package mirror

import (
	"context"
	"fmt"
	"log/slog"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/sync"
)

const (
	testNode    = "cp-1"
	testNodeIP  = "10.0.0.1"
	testNodeUID = types.UID("node-uid-1")
)

// fakeDesired is a manifest source whose snapshot tests set.
type fakeDesired struct {
	mu   stdsync.Mutex
	snap manifest.Snapshot
}

func (f *fakeDesired) Snapshot() manifest.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

func (f *fakeDesired) set(available bool, pods ...*manifest.StaticPod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap = manifest.Snapshot{Available: available, Pods: pods}
}

// fakeStatus is a loop whose published status tests set.
type fakeStatus struct {
	mu   stdsync.Mutex
	pods []sync.PodStatus
}

func (f *fakeStatus) Pods() []sync.PodStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sync.PodStatus(nil), f.pods...)
}

func (f *fakeStatus) set(pods ...sync.PodStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pods = pods
}

// fakeNode is a Node whose UID tests set.
type fakeNode struct {
	mu  stdsync.Mutex
	uid types.UID
}

func (f *fakeNode) NodeUID() (types.UID, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.uid, f.uid != ""
}

// countingHandler counts log records by message.
type countingHandler struct {
	mu     stdsync.Mutex
	counts map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[r.Message]++
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func (h *countingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[msg]
}

// harness is a Controller on a fake clientset, with a started informer.
type harness struct {
	t       *testing.T
	client  *fake.Clientset
	desired *fakeDesired
	status  *fakeStatus
	node    *fakeNode
	clock   *testingclock.FakeClock
	logs    *countingHandler
	c       *Controller
	ctx     context.Context
	// stop stops the current Controller's informer.
	stop func()
}

func newHarness(t *testing.T, objs ...*corev1.Pod) *harness {
	t.Helper()
	return newHarnessReacting(t, "", nil, objs...)
}

// newHarnessReacting is newHarness whose pod calls of verb go to react
// first. It is in place before the controller runs: the fake clientset's
// reactor chain is not safe to change while it is used.
func newHarnessReacting(t *testing.T, verb string, react k8stesting.ReactionFunc, objs ...*corev1.Pod) *harness {
	t.Helper()
	h := &harness{t: t, desired: &fakeDesired{}, status: &fakeStatus{}, node: &fakeNode{uid: testNodeUID},
		clock: testingclock.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), logs: &countingHandler{counts: map[string]int{}}}
	var ros []runtime.Object
	for _, o := range objs {
		ros = append(ros, o)
	}
	h.client = fake.NewClientset(ros...)
	h.client.PrependReactor("create", "pods", assignUID)
	if react != nil {
		h.client.PrependReactor(verb, "pods", react)
	}
	h.desired.set(true)
	h.start()
	return h
}

// assignUID gives a created pod a new UID and generation 1, as the API
// server does (the fake's tracker does not).
func assignUID(a k8stesting.Action) (bool, runtime.Object, error) {
	if p, ok := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod); ok {
		p.UID = types.UID(fmt.Sprintf("uid-%d", uidSeq.Add(1)))
		p.Generation = 1
	}
	return false, nil, nil
}

var uidSeq atomic.Int64

// start makes a new Controller (as a restarted bosun) on h's client and
// waits for its informer's first list.
func (h *harness) start() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	h.c = h.newController()
	h.c.factory.Start(ctx.Done())
	for !h.c.informer.HasSynced() {
		time.Sleep(time.Millisecond)
	}
	factory := h.c.factory
	h.stop = func() {
		cancel()
		factory.Shutdown()
	}
	h.t.Cleanup(h.stop)
}

// newController is a Controller on h's fakes, not started.
func (h *harness) newController() *Controller {
	return New(Config{Client: h.client, NodeName: testNode, NodeIP: testNodeIP, Desired: h.desired, Status: h.status, Node: h.node,
		Clock: h.clock, Log: slog.New(h.logs)})
}

// step runs one sync and waits for its calls.
func (h *harness) step() {
	h.c.sync(h.ctx)
	h.c.inflight.Wait()
}

// eventually steps until cond holds, a second of the fake clock apart,
// failing after a generous deadline.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h.step()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting until %s", what)
		}
		h.clock.Step(time.Second)
		time.Sleep(5 * time.Millisecond)
	}
}

// settle steps until the informer has seen every write (a few rounds with
// nothing to do), advancing the clock past the status period each round.
func (h *harness) settle() {
	h.t.Helper()
	for range 20 {
		h.clock.Step(2 * time.Second)
		h.step()
		time.Sleep(5 * time.Millisecond)
	}
}

// get reads pod namespace/name from the API, nil if absent.
func (h *harness) get(ns, name string) *corev1.Pod {
	p, err := h.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return p
}

// writes lists the create, delete, update and patch calls made on pods.
func (h *harness) writes() []string {
	var out []string
	for _, a := range h.client.Actions() {
		switch a.GetVerb() {
		case "create", "delete", "update", "patch":
			if a.GetResource().Resource != "pods" {
				continue
			}
			name := ""
			switch x := a.(type) {
			case k8stesting.CreateAction:
				name = x.GetObject().(metav1.Object).GetName()
			case k8stesting.DeleteAction:
				name = x.GetName()
			case k8stesting.PatchAction:
				name = x.GetName()
			}
			out = append(out, fmt.Sprintf("%s %s %s", a.GetVerb(), a.GetSubresource(), name))
		}
	}
	return out
}

// count is how many writes with verb (and subresource) were made.
func (h *harness) count(verb, sub string) int {
	n := 0
	for _, a := range h.client.Actions() {
		if a.GetVerb() == verb && a.GetSubresource() == sub && a.GetResource().Resource == "pods" {
			n++
		}
	}
	return n
}

// staticPod loads a manifest for pod name with image on the test node.
func staticPod(t *testing.T, name, image string) *manifest.StaticPod {
	t.Helper()
	y := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: kube-system
  labels:
    component: %s
    tier: control-plane
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.1:2379
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  containers:
  - name: %s
    image: %s
    resources:
      requests:
        cpu: 100m
`, name, name, name, image)
	sp, err := manifest.Load("/etc/kubernetes/manifests/"+name+".yaml", []byte(y), testNode)
	if err != nil {
		t.Fatalf("load manifest: %v", err)
	}
	return sp
}

// foreignMirror is a mirror pod named name on node.
func foreignMirror(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system", UID: types.UID("uid-" + name),
			Annotations: map[string]string{AnnotationConfigMirror: "abc", AnnotationConfigHash: "abc"}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}
