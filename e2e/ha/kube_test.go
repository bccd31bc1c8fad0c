package ha

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// components are the control-plane pods kubeadm writes manifests for, each
// also the name of its one container.
var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// bosunPod is what the test compares of `bosun ps -o json` with the API.
type bosunPod struct {
	Name       string `json:"name"`
	UID        string `json:"uid"`
	Phase      string `json:"phase"`
	Containers []struct {
		Name         string `json:"name"`
		ID           string `json:"id"`
		RestartCount uint32 `json:"restart_count"`
		Ready        bool   `json:"ready"`
	} `json:"containers"`
}

// bosunPods maps the name of each pod the node's bosun runs to it.
func (n *node) bosunPods(ctx context.Context) (map[string]bosunPod, error) {
	out, err := n.bosunCLI(ctx, "ps", "-o", "json")
	if err != nil {
		return nil, err
	}
	var resp struct {
		Pods []bosunPod `json:"pods"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("%s: bosun ps -o json: %w\n%s", n.name, err, out)
	}
	pods := map[string]bosunPod{}
	for _, p := range resp.Pods {
		pods[p.Name] = p
	}
	return pods, nil
}

// clusterMismatch says how the cluster differs from what every node's bosun
// runs: each node a Ready control-plane Node, each of its four mirror pods
// Running and Ready with config.hash equal to bosun's UID and the container
// IDs bosun's containerd runs, and no other mirror pod. Empty when it
// matches.
func clusterMismatch(ctx context.Context, kc kubernetes.Interface, ns []*node) string {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	pods, err := kc.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	mirrors := map[string]*corev1.Pod{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if _, ok := p.Annotations[corev1.MirrorPodAnnotationKey]; ok {
			mirrors[p.Name] = p
		}
	}
	if len(mirrors) != len(ns)*len(components) {
		add("%d mirror pods, want %d", len(mirrors), len(ns)*len(components))
	}
	for _, n := range ns {
		if d := nodeMismatch(ctx, kc, n.name, true); d != "" {
			add("node %s: %s", n.name, d)
		}
		bp, err := n.bosunPods(ctx)
		if err != nil {
			add("%v", err)
			continue
		}
		for _, c := range components {
			name := c + "-" + n.name
			m, b := mirrors[name], bp[name]
			switch {
			case m == nil:
				add("no mirror pod %s", name)
			case b.Name == "":
				add("%s: bosun runs no %s", n.name, name)
			default:
				if d := mirrorMismatch(m, b, n.name); d != "" {
					add("%s: %s", name, d)
				}
			}
		}
	}
	return strings.Join(diffs, "\n")
}

func mirrorMismatch(p *corev1.Pod, b bosunPod, nodeName string) string {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	if h := p.Annotations["kubernetes.io/config.hash"]; h != b.UID {
		add("config.hash %q, bosun's UID %q (mirror pod uid %s, deletionTimestamp %v, finalizers %v, owners %v, managed by %v)", h, b.UID,
			p.UID, p.DeletionTimestamp, p.Finalizers, p.OwnerReferences, managers(p))
	}
	if p.Spec.NodeName != nodeName {
		add("nodeName %q", p.Spec.NodeName)
	}
	if p.Status.Phase != corev1.PodRunning || !podReady(p) || b.Phase != "Running" {
		add("phase %s, ready %v; bosun says %s", p.Status.Phase, podReady(p), b.Phase)
	}
	for _, bc := range b.Containers {
		found := false
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name != bc.Name {
				continue
			}
			found = true
			if cs.ContainerID != "containerd://"+bc.ID || !cs.Ready || cs.State.Running == nil {
				add("container %s: %q ready %v running %v; bosun runs %.13s ready %v", bc.Name, cs.ContainerID, cs.Ready, cs.State.Running != nil, bc.ID, bc.Ready)
			}
		}
		if !found {
			add("no status of container %s", bc.Name)
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

// nodeMismatch says how the Node differs from a control-plane node whose
// Ready condition is ready; empty when it does not.
func nodeMismatch(ctx context.Context, kc kubernetes.Interface, name string, ready bool) string {
	n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	var diffs []string
	is := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			is = c.Status == corev1.ConditionTrue
		}
	}
	if is != ready {
		diffs = append(diffs, fmt.Sprintf("Ready is %v", is))
	}
	if _, ok := n.Labels["node-role.kubernetes.io/control-plane"]; !ok {
		diffs = append(diffs, "no control-plane label")
	}
	return strings.Join(diffs, "; ")
}

// waitCluster waits until clusterMismatch of the nodes ns is empty and
// returns how long it took.
func waitCluster(t *testing.T, kc kubernetes.Interface, ns []*node, timeout time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		last := clusterMismatch(ctx, kc, ns)
		cancel()
		if last == "" {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: after %v the cluster does not match what the bosuns run:\n%s", what, timeout, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// mirrorUIDs maps each mirror pod's name to its UID.
func mirrorUIDs(t *testing.T, kc kubernetes.Interface) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pods, err := kc.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		if _, ok := p.Annotations[corev1.MirrorPodAnnotationKey]; ok {
			out[p.Name] = string(p.UID)
		}
	}
	return out
}

// apiserverReady asks a node's own apiserver for /readyz (open to anyone on
// kube-apiserver), not through the VIP.
func apiserverReady(ctx context.Context, ip string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+ip+":6443/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := insecure.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: /readyz: %s", ip, resp.Status)
	}
	return nil
}

// insecure checks liveness only: which server answers is not in question.
var insecure = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a readiness check of the test's own apiserver
	DisableKeepAlives: true,
}}

func managers(p *corev1.Pod) []string {
	var out []string
	for _, m := range p.ManagedFields {
		out = append(out, m.Manager+" "+string(m.Operation)+" "+m.Subresource)
	}
	return out
}
