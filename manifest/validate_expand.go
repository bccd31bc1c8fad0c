package manifest

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Longest values of what the node provides at run time, for validating
// $(VAR) expansion before the pod runs.
const (
	maxIPLen       = len("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255")
	maxIPsLen      = 2*maxIPLen + 1 // a dual-stack pair, comma-separated
	maxNodeNameLen = 253            // a DNS-1123 subdomain
	maxQuantityLen = len("-9223372036854775808")
	hashLen        = 32
)

// validateExpansion refuses a pod whose env, command, args or subPathExpr
// could expand past MaxExpandedValue or MaxExpandedTotal on node: it expands
// them as the runtime does, with each value the node provides (IPs, the node
// name, resource amounts) at its longest.
func validateExpansion(p *problems, pod *corev1.Pod, node string) {
	for _, list := range containerLists(&pod.Spec) {
		for i := range list.cs {
			c := &list.cs[i]
			f := fmt.Sprintf("%s[%d]", list.path, i)
			x, err := ExpandContainer(c, func(src *corev1.EnvVarSource) string { return longestSource(pod, node, src) })
			var fe *FieldError
			if errors.As(err, &fe) {
				p.add(f+"."+fe.Field, "%s", fe.Msg)
				continue
			}
			for j, m := range c.VolumeMounts {
				if m.SubPathExpr == "" {
					continue
				}
				if _, err := ExpandSubPath(m.SubPathExpr, x.Vars); err != nil {
					p.add(fmt.Sprintf("%s.volumeMounts[%d].subPathExpr", f, j), "expands to more than %d bytes", MaxExpandedValue)
				}
			}
		}
	}
}

// longestSource is a string as long as the longest value src can have for
// pod on node: the value itself where the manifest decides it.
func longestSource(pod *corev1.Pod, node string, src *corev1.EnvVarSource) string {
	if src.ResourceFieldRef != nil {
		return strings.Repeat("9", maxQuantityLen)
	}
	if src.FieldRef == nil {
		return ""
	}
	switch path := src.FieldRef.FieldPath; path {
	case "metadata.name":
		return PodName(pod.Name, node)
	case "metadata.namespace":
		return pod.Namespace
	case "metadata.uid":
		if pod.UID != "" {
			return string(pod.UID)
		}
		return strings.Repeat("0", hashLen)
	case "spec.nodeName":
		return strings.Repeat("n", max(len(node), maxNodeNameLen))
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName
	case "status.podIP", "status.hostIP":
		return strings.Repeat("f", maxIPLen)
	case "status.podIPs", "status.hostIPs":
		return strings.Repeat("f", maxIPsLen)
	case "metadata.labels":
		return FormatMap(pod.Labels)
	case "metadata.annotations":
		return FormatMap(pod.Annotations)
	default:
		if key, ok := Subscript(path, "metadata.labels"); ok {
			return pod.Labels[key]
		}
		if key, ok := Subscript(path, "metadata.annotations"); ok {
			return pod.Annotations[key]
		}
	}
	return ""
}

// Subscript reads the key of a field path "prefix['key']".
func Subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok || !strings.HasSuffix(rest, "']") {
		return "", false
	}
	return strings.TrimSuffix(rest, "']"), true
}
