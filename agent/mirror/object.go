package mirror

import (
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bosun-sh/bosun/manifest"
)

// The annotations of a mirror pod: the kubelet's, and bosun's spec hash.
const (
	AnnotationConfigHash   = "kubernetes.io/config.hash"
	AnnotationConfigMirror = corev1.MirrorPodAnnotationKey // kubernetes.io/config.mirror
	AnnotationConfigSource = "kubernetes.io/config.source"
	AnnotationConfigSeen   = "kubernetes.io/config.seen"
	// AnnotationSpecHash is the static pod's spec hash: config.mirror is
	// metadata.uid when the manifest sets one, and then does not change with
	// the spec.
	AnnotationSpecHash = "bosun.dev/spec-hash"
	// SourceFile is config.source of a pod from the manifest directory.
	SourceFile = "file"
)

// mirrorPod is the mirror pod of static pod sp on node, owned by the Node
// with uid nodeUID, first seen at seen.
func mirrorPod(sp *manifest.StaticPod, node string, nodeUID types.UID, seen time.Time) *corev1.Pod {
	ann := maps.Clone(sp.Pod.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationConfigHash] = sp.UID
	ann[AnnotationConfigMirror] = sp.UID
	ann[AnnotationConfigSource] = SourceFile
	ann[AnnotationConfigSeen] = seen.Format(time.RFC3339Nano)
	ann[AnnotationSpecHash] = sp.Hash
	controller := true
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        sp.Name,
			Namespace:   sp.Namespace,
			Labels:      maps.Clone(sp.Pod.Labels),
			Annotations: ann,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: node, UID: nodeUID, Controller: &controller,
			}},
		},
		Spec: *sp.Pod.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = node
	addNoExecuteToleration(&pod.Spec)
	return pod
}

// addNoExecuteToleration adds the toleration of every NoExecute taint that
// the kubelet's file source gives static pods, so that the taint manager
// does not evict the mirror pod of a node with problems.
func addNoExecuteToleration(spec *corev1.PodSpec) {
	want := corev1.Toleration{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}
	for _, t := range spec.Tolerations {
		if t.Key == "" && t.Operator == want.Operator && t.Effect == want.Effect && t.Value == "" && t.TolerationSeconds == nil {
			return
		}
	}
	spec.Tolerations = append(spec.Tolerations, want)
}

// isMirror reports whether pod is a mirror pod bound to node.
func isMirror(pod *corev1.Pod, node string) bool {
	_, ok := pod.Annotations[AnnotationConfigMirror]
	return ok && pod.Spec.NodeName == node
}

// upToDate reports whether mirror pod pod is the one of sp's version and is
// not being deleted.
func upToDate(pod *corev1.Pod, sp *manifest.StaticPod) bool {
	return pod.DeletionTimestamp == nil &&
		pod.Annotations[AnnotationConfigMirror] == sp.UID &&
		pod.Annotations[AnnotationSpecHash] == sp.Hash
}
