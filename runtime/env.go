package runtime

import (
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/bosun-sh/bosun/manifest"
)

// EnvSourceValue resolves a fieldRef or resourceFieldRef the way the kubelet
// does for a static pod (whose metadata.name carries the node suffix).
func EnvSourceValue(sp *manifest.StaticPod, c *corev1.Container, src *corev1.EnvVarSource, node Node, podIP string) string {
	switch {
	case src.FieldRef != nil:
		return FieldValue(sp, src.FieldRef.FieldPath, node, podIP)
	case src.ResourceFieldRef != nil:
		return ResourceValue(c, src.ResourceFieldRef, node)
	}
	return ""
}

// FieldValue is the value of a downward API field path.
func FieldValue(sp *manifest.StaticPod, path string, node Node, podIP string) string {
	pod := sp.Pod
	if pod.Spec.HostNetwork {
		podIP = node.HostIP
	}
	switch path {
	case "metadata.name":
		return sp.Name
	case "metadata.namespace":
		return sp.Namespace
	case "metadata.uid":
		return sp.UID
	case "spec.nodeName":
		return node.Name
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName
	case "status.podIP", "status.podIPs":
		return podIP
	case "status.hostIP", "status.hostIPs":
		return node.HostIP
	case "metadata.labels":
		return manifest.FormatMap(pod.Labels)
	case "metadata.annotations":
		return manifest.FormatMap(pod.Annotations)
	}
	if key, ok := manifest.Subscript(path, "metadata.labels"); ok {
		return pod.Labels[key]
	}
	if key, ok := manifest.Subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key]
	}
	return ""
}

// ResourceValue is the value of a resourceFieldRef: the container's request
// (defaulted to its limit, as the API server does) or limit divided by the
// divisor and rounded up; a limit the container does not set is the node's
// allocatable amount.
func ResourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector, node Node) string {
	var q resource.Quantity
	name, kind := ref.Resource, ""
	if r, ok := strings.CutPrefix(name, "limits."); ok {
		kind, name = "limits", r
	} else if r, ok := strings.CutPrefix(name, "requests."); ok {
		kind, name = "requests", r
	}
	resources := withDefaultRequests(c.Resources)
	list := resources.Limits
	if kind == "requests" {
		list = resources.Requests
	}
	v, ok := list[corev1.ResourceName(name)]
	switch {
	case ok:
		q = v
	case name == "cpu" && kind == "limits":
		q = *resource.NewQuantity(node.CPUs, resource.DecimalSI)
	case name == "memory" && kind == "limits":
		q = *resource.NewQuantity(node.MemoryBytes, resource.BinarySI)
	case kind == "requests":
		q = resource.Quantity{}
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if name == "cpu" {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10)
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10)
}
