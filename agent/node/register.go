package node

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// initialNode returns the Node bosun registers: its labels, the
// controller-managed attach/detach annotation, the taints of
// --register-with-taints, its status, and unschedulable (cordoned): bosun
// runs only its manifests, so the Node says at once that it takes no pods
// (with its capacity of 0 pods), and kubeadm upgrade's health check does not
// wait for a Job to run here. Set at registration only: an administrator's
// uncordon stands.
func (c *Controller) initialNode(in statusInput) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        c.cfg.NodeName,
			Labels:      nodeLabels(c.cfg.Hostname, c.cfg.Labels),
			Annotations: map[string]string{annotationControllerManagedAttach: "true"},
		},
		Spec: corev1.NodeSpec{Unschedulable: true},
	}
	if len(c.cfg.Taints) > 0 {
		n.Spec.Taints = append([]corev1.Taint(nil), c.cfg.Taints...)
	}
	applyStatus(n, in)
	return n
}

// register creates the Node or, when it exists, reconciles what bosun owns on
// it (the attach/detach annotation, the default labels and the capacity), as
// the kubelet does; it returns the registered Node and whether it created it.
func (c *Controller) register(ctx context.Context, in statusInput) (*corev1.Node, bool, error) {
	nodes := c.cfg.Client.CoreV1().Nodes()
	want := c.initialNode(in)
	created, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	if err == nil {
		c.log.Info("registered node", "node", c.cfg.NodeName, "uid", string(created.UID))
		return created, true, nil
	}
	// The kubelet reads the Node on Forbidden too: a node may be allowed to
	// read and patch its Node while not allowed to create it.
	if !apierrors.IsAlreadyExists(err) && !apierrors.IsForbidden(err) {
		return nil, false, fmt.Errorf("node %s: register: %w", c.cfg.NodeName, err)
	}
	existing, getErr := nodes.Get(ctx, c.cfg.NodeName, metav1.GetOptions{})
	if getErr != nil {
		if apierrors.IsForbidden(err) {
			return nil, false, fmt.Errorf("node %s: register: %w", c.cfg.NodeName, err)
		}
		return nil, false, fmt.Errorf("node %s: register: read existing node: %w", c.cfg.NodeName, getErr)
	}
	reconciled := existing.DeepCopy()
	if !reconcileExisting(want, reconciled, in.machine.hugepagesKnown) {
		c.log.Info("node was registered before", "node", c.cfg.NodeName, "uid", string(existing.UID))
		return existing, false, nil
	}
	patched, err := c.patchStatus(ctx, existing, reconciled)
	if err != nil {
		return nil, false, fmt.Errorf("node %s: register: reconcile existing node: %w", c.cfg.NodeName, err)
	}
	c.log.Info("node was registered before; reconciled its labels, annotation and capacity", "node", c.cfg.NodeName, "uid", string(patched.UID))
	return patched, false, nil
}

// reconcileExisting sets on existing what the kubelet reconciles at
// registration: the attach/detach annotation, the default labels, and the
// capacity and allocatable of huge pages when hugepagesKnown (and both maps
// when absent). Taints and --node-labels outside the default labels are set
// at creation only. It says whether existing changed.
func reconcileExisting(want, existing *corev1.Node, hugepagesKnown bool) bool {
	changed := false
	if v := want.Annotations[annotationControllerManagedAttach]; existing.Annotations[annotationControllerManagedAttach] != v {
		if existing.Annotations == nil {
			existing.Annotations = map[string]string{}
		}
		existing.Annotations[annotationControllerManagedAttach] = v
		changed = true
	}
	if reconcileDefaultLabels(want, existing) {
		changed = true
	}
	if existing.Status.Capacity == nil {
		existing.Status.Capacity = want.Status.Capacity.DeepCopy()
		changed = true
	}
	if existing.Status.Allocatable == nil {
		existing.Status.Allocatable = want.Status.Allocatable.DeepCopy()
		changed = true
	}
	if !hugepagesKnown {
		return changed
	}
	for name := range existing.Status.Capacity {
		if _, ok := want.Status.Capacity[name]; isHugePages(name) && !ok {
			delete(existing.Status.Capacity, name)
			delete(existing.Status.Allocatable, name)
			changed = true
		}
	}
	for name, q := range want.Status.Capacity {
		if !isHugePages(name) {
			continue
		}
		if old, ok := existing.Status.Capacity[name]; !ok || old.Cmp(q) != 0 {
			existing.Status.Capacity[name] = q.DeepCopy()
			changed = true
		}
		a := want.Status.Allocatable[name]
		if old, ok := existing.Status.Allocatable[name]; !ok || old.Cmp(a) != 0 {
			existing.Status.Allocatable[name] = a.DeepCopy()
			changed = true
		}
	}
	return changed
}
