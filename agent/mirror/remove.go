package mirror

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// remove deletes mirror pod pod at once (grace 0, as the kubelet), only if
// it is still the one with pod's UID. It returns nil when that pod is gone
// already.
func (c *Controller) remove(ctx context.Context, pod *corev1.Pod) error {
	grace := int64(0)
	uid := pod.UID
	err := c.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &grace, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // deleted, gone, or replaced by another pod of that name
	}
	return fmt.Errorf("delete mirror pod %s/%s: %w", pod.Namespace, pod.Name, err)
}
