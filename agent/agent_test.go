package agent

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
)

type snapshot manifest.Snapshot

func (s snapshot) Snapshot() manifest.Snapshot { return manifest.Snapshot(s) }

type refs map[string]*corev1.ObjectReference

func (r refs) Ref(key string) (*corev1.ObjectReference, bool) { ref, ok := r[key]; return ref, ok }

func TestEventsNameADesiredPodByItsStaticUIDAsKubectlDescribeLooksItUp(t *testing.T) {
	sp := &manifest.StaticPod{Namespace: "kube-system", Name: "etcd-n1", UID: "0123456789abcdef0123456789abcdef", Hash: "0123456789abcdef0123456789abcdef"}
	gone := &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "old-n1", UID: "static-uid-of-old"}
	r := staticRefs{snapshot{Available: true, Pods: []*manifest.StaticPod{sp}}, refs{"default/old-n1": gone}}
	ref, ok := r.Ref("kube-system/etcd-n1")
	if !ok || ref.Kind != "Pod" || ref.APIVersion != "v1" || ref.Namespace != "kube-system" || ref.Name != "etcd-n1" || string(ref.UID) != sp.UID {
		t.Errorf("Ref(etcd) = %+v, %v; want the pod named by its static UID", ref, ok)
	}
	if ref, ok := r.Ref("default/old-n1"); !ok || ref != gone {
		t.Errorf("a pod no longer in the manifests: %+v, %v; want its mirror pod's reference", ref, ok)
	}
	if _, ok := r.Ref("default/none-n1"); ok {
		t.Error("a pod nobody knows has a reference")
	}
}

func TestMirrorPodSaysWhyThereIsNoneBeforeTheAPISideConnects(t *testing.T) {
	a := New(Config{Kubeconfig: "/etc/kubernetes/kubelet.conf"})
	if got := a.MirrorPod("kube-system/etcd-n1"); got != "none: waiting for /etc/kubernetes/kubelet.conf" {
		t.Errorf("MirrorPod = %q", got)
	}
}
