package sync

import (
	"context"
	"slices"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/runtime"
)

// kubeletPod makes a running pod as a kubelet does for a static pod from
// source (file, api, ...): its labels and annotations, no bosun label.
func (h *harness) kubeletPod(name, source string) (sandboxID, containerID string) {
	h.t.Helper()
	ctx := context.Background()
	labels := map[string]string{runtime.LabelPodName: name, runtime.LabelPodNamespace: "default", runtime.LabelPodUID: "k-" + name}
	sb, err := h.rt.RunPodSandbox(ctx, &runtimeapi.PodSandboxConfig{
		Metadata:    &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: "k-" + name},
		Labels:      labels,
		Annotations: map[string]string{runtime.AnnotationConfigSource: source, runtime.AnnotationConfigHash: "k-" + name},
	}, "")
	if err != nil {
		h.t.Fatal(err)
	}
	cl := map[string]string{runtime.LabelContainerName: "main"}
	for k, v := range labels {
		cl[k] = v
	}
	id, err := h.rt.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "main"}, Image: &runtimeapi.ImageSpec{Image: "busybox:1.36"},
		Labels: cl, Annotations: map[string]string{runtime.AnnotationTermGracePeriod: "7"},
	}, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.rt.StartContainer(ctx, id); err != nil {
		h.t.Fatal(err)
	}
	return sb, id
}

func TestKubeletPodsAreTakenOverOneAtATimeEtcdFirst(t *testing.T) {
	h := newHarness(t,
		load(t, "/m/api.yaml", podYAML("kube-apiserver", "Always", "x", "main")),
		load(t, "/m/etcd.yaml", podYAML("etcd", "Always", "x", "main")),
		load(t, "/m/web.yaml", podYAML("web", "Always", "x", "main")))
	h.loop.cfg.TakeOver = true
	apiSB, _ := h.kubeletPod("kube-apiserver-node1", "file")
	etcdSB, _ := h.kubeletPod("etcd-node1", "file")
	otherSB, _ := h.kubeletPod("scheduler-node1", "file") // no manifest
	webSB, _ := h.kubeletPod("web-node1", "api")          // not from a file
	h.rt.mutations()

	h.sync()
	if h.rt.sandboxes[etcdSB] != nil || h.rt.sandboxes[apiSB] == nil {
		t.Fatalf("first sync: want only etcd taken over; sandboxes %v", keys(h.rt.sandboxes))
	}
	h.mustRun("etcd-node1/main")
	if n := h.bosunSandboxes(); n != 2 {
		t.Fatalf("first sync: %d bosun sandboxes, want 2 (etcd and web; kube-apiserver waits its turn)", n)
	}
	h.settle()
	if h.rt.sandboxes[apiSB] != nil {
		t.Errorf("the kubelet's kube-apiserver was not taken over")
	}
	if h.rt.sandboxes[otherSB] == nil || h.rt.sandboxes[webSB] == nil {
		t.Errorf("a kubelet pod without a manifest or not from a file was touched")
	}
	if n := h.bosunSandboxes(); n != 3 {
		t.Errorf("%d bosun sandboxes, want 3", n)
	}
	if got, want := h.rt.stopped, []string{"main", "main"}; !slices.Equal(got, want) {
		t.Errorf("stopped %v, want the two kubelet containers stopped with their grace period", got)
	}
}

func TestKubeletPodsAreLeftAloneWithoutTakeOver(t *testing.T) {
	h := newHarness(t, load(t, "/m/etcd.yaml", podYAML("etcd", "Always", "x", "main")))
	sb, _ := h.kubeletPod("etcd-node1", "file")
	h.rt.mutations()
	h.settle()
	if h.rt.sandboxes[sb] == nil {
		t.Errorf("the kubelet's pod was touched")
	}
	for _, c := range h.rt.mutations() {
		if c == "StopPodSandbox" || c == "RemovePodSandbox" || c == "StopContainer" {
			t.Errorf("call %s without --take-over-kubelet-pods", c)
		}
	}
}

func (h *harness) bosunSandboxes() int {
	n := 0
	for _, s := range h.rt.sandboxes {
		if s.Labels[runtime.LabelManaged] == "true" {
			n++
		}
	}
	return n
}
