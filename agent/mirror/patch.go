package mirror

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// patchStatus patches the status subresource of mirror pod pod from old to
// status with a strategic merge patch that carries pod's UID, so that it
// fails on a pod that replaced it, as the kubelet's status manager does.
func (c *Controller) patchStatus(ctx context.Context, pod *corev1.Pod, old, status corev1.PodStatus) error {
	patch, err := statusPatch(pod.UID, old, status)
	if err != nil {
		return fmt.Errorf("patch status of mirror pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	_, err = c.cfg.Client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("patch status of mirror pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// statusPatch is the strategic merge patch from old to status, with uid as
// its precondition.
func statusPatch(uid types.UID, old, status corev1.PodStatus) ([]byte, error) {
	from, err := json.Marshal(corev1.Pod{Status: old})
	if err != nil {
		return nil, err
	}
	to, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid}, Status: status})
	if err != nil {
		return nil, err
	}
	return strategicpatch.CreateTwoWayMergePatch(from, to, corev1.Pod{})
}
