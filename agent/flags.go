package agent

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	kubeletapis "k8s.io/kubelet/pkg/apis"
)

// ParseNodeLabels reads --node-labels ("key=value,key2=value2") as the
// kubelet does: each key and value must be valid, and a key in the
// kubernetes.io or k8s.io namespaces must be one the kubelet may set on its
// Node (NodeRestriction refuses the others).
func ParseNodeLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return labels, nil
	}
	var unknown []string
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("--node-labels: %q is not key=value", kv)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("--node-labels: key %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("--node-labels: value %q of %s: %s", v, k, strings.Join(errs, "; "))
		}
		if reserved(k) && !kubeletapis.IsKubeletLabel(k) {
			unknown = append(unknown, k)
		}
		labels[k] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("--node-labels: %s: a node may set on itself only these labels of the kubernetes.io and k8s.io namespaces: %s, and those beginning with %s",
			strings.Join(unknown, ", "), strings.Join(kubeletapis.KubeletLabels(), ", "), strings.Join(kubeletapis.KubeletLabelNamespaces(), ", "))
	}
	return labels, nil
}

// reserved reports whether a label key is in the kubernetes.io or k8s.io
// namespaces, or one of their subdomains.
func reserved(key string) bool {
	prefix, _, ok := strings.Cut(key, "/")
	if !ok {
		return false
	}
	for _, ns := range []string{"kubernetes.io", "k8s.io"} {
		if prefix == ns || strings.HasSuffix(prefix, "."+ns) {
			return true
		}
	}
	return false
}

// ParseTaints reads --register-with-taints ("key=value:Effect,key:Effect",
// as the kubelet and kubectl taint write them).
func ParseTaints(s string) ([]corev1.Taint, error) {
	var taints []corev1.Taint
	if strings.TrimSpace(s) == "" {
		return taints, nil
	}
	seen := map[string]bool{}
	for _, spec := range strings.Split(s, ",") {
		t, err := parseTaint(strings.TrimSpace(spec))
		if err != nil {
			return nil, fmt.Errorf("--register-with-taints: %q: %w", spec, err)
		}
		id := t.Key + ":" + string(t.Effect)
		if seen[id] {
			return nil, fmt.Errorf("--register-with-taints: %s given twice", id)
		}
		seen[id] = true
		taints = append(taints, t)
	}
	return taints, nil
}

func parseTaint(spec string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(spec, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("want key[=value]:Effect")
	}
	k, v, _ := strings.Cut(kv, "=")
	if errs := validation.IsQualifiedName(k); len(errs) > 0 {
		return corev1.Taint{}, fmt.Errorf("key %q: %s", k, strings.Join(errs, "; "))
	}
	if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
		return corev1.Taint{}, fmt.Errorf("value %q: %s", v, strings.Join(errs, "; "))
	}
	switch e := corev1.TaintEffect(effect); e {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		return corev1.Taint{Key: k, Value: v, Effect: e}, nil
	default:
		return corev1.Taint{}, fmt.Errorf("effect %q: must be NoSchedule, PreferNoSchedule or NoExecute", effect)
	}
}
