package agent

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bosun-sh/bosun/agent/node"
)

// ParseNodeLabels reads --node-labels ("key=value,key2=value2") as the
// kubelet does: each key and value must be valid, and a label NodeRestriction
// would refuse the node (node.ValidateLabels) is an error naming it.
func ParseNodeLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return labels, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("--node-labels: %q is not key=value", kv)
		}
		labels[k] = v
	}
	if err := node.ValidateLabels(labels); err != nil {
		return nil, fmt.Errorf("--node-labels: %w", err)
	}
	return labels, nil
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
