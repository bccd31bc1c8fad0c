package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/bosun-sh/bosun/e2e/internal/cpkit"
)

// components are the control-plane pods kubeadm writes manifests for, each
// also the name of its one container.
var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// mirrorName is the name of a component's mirror pod on the test's node.
func mirrorName(component string) string { return component + "-" + nodeName }

// newClientset is a client-go clientset as kubeadm's admin.conf says, whose
// connections are made in the test's network namespace (as kubectl run on
// the node would make them).
func newClientset(path string) (kubernetes.Interface, error) {
	return cpkit.Clientset(path, dialInNetns)
}

// bosunPod is the part of a pod in `bosun ps -o json` the test compares with
// the API.
type bosunPod struct {
	Namespace  string         `json:"namespace"`
	Name       string         `json:"name"`
	UID        string         `json:"uid"`
	Hash       string         `json:"hash"`
	Phase      string         `json:"phase"`
	Containers []podContainer `json:"containers"`
}

// podContainer is a container of a bosunPod; Tags are its image's tags,
// known only for the kubelet's (kubeletPods).
type podContainer struct {
	Name         string   `json:"name"`
	ID           string   `json:"id"`
	Image        string   `json:"image"`
	Tags         []string `json:"-"`
	State        string   `json:"state"`
	RestartCount uint32   `json:"restart_count"`
	Ready        bool     `json:"ready"`
}

// bosunPods maps the name of each pod `bosun ps -o json` lists to it; under
// the kubelet, each pod it runs, read through the CRI.
func (r *runner) bosunPods(ctx context.Context) (map[string]bosunPod, error) {
	if agent == "kubelet" {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return kubeletPods(ctx)
	}
	out, err := r.cliErr("ps", "-o", "json")
	if err != nil {
		return nil, err
	}
	var resp struct {
		Pods []bosunPod `json:"pods"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("bosun ps -o json: %w\n%s", err, out)
	}
	pods := map[string]bosunPod{}
	for _, p := range resp.Pods {
		pods[p.Name] = p
	}
	return pods, nil
}

// mirrorPods gets the four components' mirror pods; a missing one is an
// error.
func mirrorPods(ctx context.Context, kc kubernetes.Interface) (map[string]*corev1.Pod, error) {
	out := map[string]*corev1.Pod{}
	for _, c := range components {
		p, err := kc.CoreV1().Pods("kube-system").Get(ctx, mirrorName(c), metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		out[c] = p
	}
	return out, nil
}

// mirrorMismatch says how a mirror pod differs from what bosun runs: Running
// and Ready, kubelet's mirror annotations with config.hash equal to the UID
// bosun shows, bound to the node with a controller reference to its Node,
// and one container status per container bosun runs with its containerd://
// ID, restart count and readiness. Empty when it matches.
func mirrorMismatch(p *corev1.Pod, b bosunPod, node *corev1.Node) string {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	if h := p.Annotations["kubernetes.io/config.hash"]; h != b.UID {
		add("config.hash %q, bosun's UID %q", h, b.UID)
	}
	if _, ok := p.Annotations["kubernetes.io/config.mirror"]; !ok {
		add("no kubernetes.io/config.mirror annotation")
	}
	if p.Spec.NodeName != nodeName {
		add("nodeName %q", p.Spec.NodeName)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.Kind != "Node" || ref.Name != nodeName || (node != nil && ref.UID != node.UID) {
		add("controller reference %+v, want the Node %s", ref, nodeName)
	}
	if p.Status.Phase != corev1.PodRunning {
		add("phase %s", p.Status.Phase)
	}
	if !podReady(p) {
		add("not Ready")
	}
	if b.Phase != "Running" {
		add("bosun says %s", b.Phase)
	}
	for _, bc := range b.Containers {
		var cs *corev1.ContainerStatus
		for i := range p.Status.ContainerStatuses {
			if p.Status.ContainerStatuses[i].Name == bc.Name {
				cs = &p.Status.ContainerStatuses[i]
			}
		}
		switch {
		case cs == nil:
			add("no status of container %s", bc.Name)
		case cs.ContainerID != "containerd://"+bc.ID:
			add("container %s: containerID %q, bosun runs %.13s", bc.Name, cs.ContainerID, bc.ID)
		case cs.RestartCount != int32(bc.RestartCount):
			add("container %s: restartCount %d, bosun's %d", bc.Name, cs.RestartCount, bc.RestartCount)
		case cs.Ready != bc.Ready || cs.State.Running == nil:
			add("container %s: ready %v running %v, bosun's ready %v", bc.Name, cs.Ready, cs.State.Running != nil, bc.Ready)
		}
	}
	return strings.Join(diffs, "; ")
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// mirrorsMatch reports how the four mirror pods differ from what bosun
// runs; empty when all match.
func mirrorsMatch(ctx context.Context, kc kubernetes.Interface, r *runner) string {
	node, err := kc.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	mirrors, err := mirrorPods(ctx, kc)
	if err != nil {
		return err.Error()
	}
	bosun, err := r.bosunPods(ctx)
	if err != nil {
		return err.Error()
	}
	var diffs []string
	for _, c := range components {
		b, ok := bosun[mirrorName(c)]
		if !ok {
			diffs = append(diffs, "bosun runs no "+mirrorName(c))
			continue
		}
		if d := mirrorMismatch(mirrors[c], b, node); d != "" {
			diffs = append(diffs, mirrorName(c)+": "+d)
		}
	}
	return strings.Join(diffs, "\n")
}

// waitMirrors waits until the four mirror pods match what bosun runs and
// fails the test with the last difference when they do not within timeout.
func waitMirrors(t *testing.T, kc kubernetes.Interface, r *runner, timeout time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		last = mirrorsMatch(ctx, kc, r)
		cancel()
		if last == "" {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: the mirror pods do not match what bosun runs after %v:\n%s", what, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// nodeMismatch says how the Node differs from a Ready control-plane node as
// kubeadm's mark-control-plane leaves it; empty when it does not.
func nodeMismatch(n *corev1.Node) string {
	var diffs []string
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		diffs = append(diffs, fmt.Sprintf("not Ready (conditions %v)", conditionSummary(n.Status.Conditions)))
	}
	for _, l := range []string{"node-role.kubernetes.io/control-plane", "node.kubernetes.io/exclude-from-external-load-balancers"} {
		if _, ok := n.Labels[l]; !ok {
			diffs = append(diffs, "no label "+l)
		}
	}
	if n.Labels["kubernetes.io/hostname"] != nodeName {
		diffs = append(diffs, fmt.Sprintf("label kubernetes.io/hostname %q", n.Labels["kubernetes.io/hostname"]))
	}
	tainted := false
	for _, tn := range n.Spec.Taints {
		if tn.Key == "node-role.kubernetes.io/control-plane" && tn.Effect == corev1.TaintEffectNoSchedule {
			tainted = true
		}
	}
	if !tainted {
		diffs = append(diffs, fmt.Sprintf("no taint node-role.kubernetes.io/control-plane:NoSchedule (taints %v)", n.Spec.Taints))
	}
	found := false
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && a.Address == nodeIP {
			found = true
		}
	}
	if !found {
		diffs = append(diffs, fmt.Sprintf("no InternalIP %s (addresses %v)", nodeIP, n.Status.Addresses))
	}
	return strings.Join(diffs, "; ")
}

func conditionSummary(cs []corev1.NodeCondition) string {
	var s []string
	for _, c := range cs {
		s = append(s, string(c.Type)+"="+string(c.Status))
	}
	return strings.Join(s, ",")
}

// waitNode waits until the Node is a Ready control-plane node.
func waitNode(t *testing.T, kc kubernetes.Interface, timeout time.Duration) *corev1.Node {
	t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n, err := kc.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		cancel()
		last := ""
		if err != nil {
			last = err.Error()
		} else if last = nodeMismatch(n); last == "" {
			return n
		}
		if time.Since(start) > timeout {
			t.Fatalf("node %s after %v: %s", nodeName, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// podEvents lists the events kubectl describe pod shows for p: those whose
// involved object has p's namespace, name and UID, where a mirror pod's UID
// is the static pod's, its kubernetes.io/config.mirror annotation (kubectl's
// describe looks them up so, as the kubelet posts them).
func podEvents(ctx context.Context, kc kubernetes.Interface, p *corev1.Pod) ([]corev1.Event, error) {
	uid := string(p.UID)
	if m, ok := p.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		uid = m
	}
	sel := fields.Set{
		"involvedObject.name":      p.Name,
		"involvedObject.namespace": p.Namespace,
		"involvedObject.uid":       uid,
	}.AsSelector().String()
	l, err := kc.CoreV1().Events(p.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// eventLines are events as kubectl describe prints them: type, reason,
// source and message.
func eventLines(evs []corev1.Event) string {
	sort.Slice(evs, func(i, j int) bool { return eventTime(evs[i]).Before(eventTime(evs[j])) })
	var b strings.Builder
	for _, e := range evs {
		src := e.Source.Component
		if src == "" {
			src = e.ReportingController
		}
		fmt.Fprintf(&b, "  %s %s %s (x%d) %s: %s\n", eventTime(e).Format("15:04:05"), e.Type, e.Reason, max(e.Count, 1), src, e.Message)
	}
	return b.String()
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// objectVersions maps each mirror pod's name to its UID and resourceVersion,
// and keeps the pods to say what changed (changes).
func objectVersions(t *testing.T, kc kubernetes.Interface) (map[string]string, map[string]*corev1.Pod) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := mirrorPods(ctx, kc)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for c, p := range ps {
		out[mirrorName(c)] = fmt.Sprintf("uid %s resourceVersion %s", p.UID, p.ResourceVersion)
	}
	return out, ps
}

// changes lists the lines of the two pods' metadata and status (as
// indented JSON, without managedFields) that differ.
func changes(before, after *corev1.Pod) string {
	lines := func(p *corev1.Pod) []string {
		v := struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			Status      corev1.PodStatus  `json:"status"`
		}{p.Labels, p.Annotations, p.Status}
		b, _ := json.MarshalIndent(v, "", "  ")
		return strings.Split(string(b), "\n")
	}
	count := func(ls []string) map[string]int {
		m := map[string]int{}
		for _, l := range ls {
			m[l]++
		}
		return m
	}
	bl, al := lines(before), lines(after)
	bc, ac := count(bl), count(al)
	var out []string
	for _, l := range bl {
		if ac[l] < bc[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range al {
		if bc[l] < ac[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
