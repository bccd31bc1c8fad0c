package node

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Beta OS and architecture labels, which the kubelet v1.37 still sets.
const (
	labelBetaOS   = "beta.kubernetes.io/os"
	labelBetaArch = "beta.kubernetes.io/arch"
)

// annotationControllerManagedAttach is the kubelet's annotation that lets the
// attach/detach controller, not the node, attach volumes.
const annotationControllerManagedAttach = "volumes.kubernetes.io/controller-managed-attach-detach"

// defaultLabelKeys are the labels the kubelet reconciles on an existing Node
// (updateDefaultLabels); bosun sets the hostname, os and arch ones, and
// reconciles any of them that --node-labels set.
var defaultLabelKeys = []string{
	corev1.LabelHostname,
	corev1.LabelTopologyZone,
	corev1.LabelTopologyRegion,
	corev1.LabelFailureDomainBetaZone,
	corev1.LabelFailureDomainBetaRegion,
	corev1.LabelInstanceTypeStable,
	corev1.LabelInstanceType,
	corev1.LabelOSStable,
	corev1.LabelArchStable,
	corev1.LabelWindowsBuild,
	labelBetaOS,
	labelBetaArch,
}

// nodeSelfLabels are the kubernetes.io and k8s.io labels NodeRestriction lets a
// node set on its own Node (k8s.io/kubelet/pkg/apis.KubeletLabels).
var nodeSelfLabels = map[string]bool{
	corev1.LabelHostname:                true,
	corev1.LabelTopologyZone:            true,
	corev1.LabelTopologyRegion:          true,
	corev1.LabelFailureDomainBetaZone:   true,
	corev1.LabelFailureDomainBetaRegion: true,
	corev1.LabelInstanceType:            true,
	corev1.LabelInstanceTypeStable:      true,
	corev1.LabelOSStable:                true,
	corev1.LabelArchStable:              true,
	labelBetaOS:                         true,
	labelBetaArch:                       true,
}

// nodeSelfLabelNamespaces are the label namespaces (and their subdomains) a
// node may set on its own Node.
var nodeSelfLabelNamespaces = []string{corev1.LabelNamespaceSuffixKubelet, corev1.LabelNamespaceSuffixNode}

// ValidateLabels reports every label of --node-labels that is malformed or
// that NodeRestriction would refuse (a kubernetes.io or k8s.io label the
// kubelet may not set, or a node-restriction.kubernetes.io label), as the
// kubelet refuses them at start; nil when all are fine.
func ValidateLabels(labels map[string]string) error {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, fmt.Errorf("node label %q: %s", k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(labels[k]) {
			errs = append(errs, fmt.Errorf("node label %q: value %q: %s", k, labels[k], msg))
		}
		if !mayNodeSetLabel(k) {
			errs = append(errs, fmt.Errorf("node label %q: a node may not set it on itself (NodeRestriction); set it with kubectl label", k))
		}
	}
	return errors.Join(errs...)
}

// mayNodeSetLabel says whether NodeRestriction admits a node setting the
// label key on its own Node.
func mayNodeSetLabel(key string) bool {
	ns, _, ok := strings.Cut(key, "/")
	if !ok {
		return true
	}
	if ns == corev1.LabelNamespaceNodeRestriction || strings.HasSuffix(ns, "."+corev1.LabelNamespaceNodeRestriction) {
		return false
	}
	if !inNamespace(ns, "kubernetes.io") && !inNamespace(ns, "k8s.io") {
		return true
	}
	if nodeSelfLabels[key] {
		return true
	}
	for _, allowed := range nodeSelfLabelNamespaces {
		if inNamespace(ns, allowed) {
			return true
		}
	}
	return false
}

// inNamespace says whether ns is namespace or one of its subdomains.
func inNamespace(ns, namespace string) bool {
	return ns == namespace || strings.HasSuffix(ns, "."+namespace)
}

// nodeLabels returns the labels bosun registers its Node with: the kubelet's
// hostname, os and arch labels, with extra (--node-labels) over them.
func nodeLabels(hostname string, extra map[string]string) map[string]string {
	l := map[string]string{
		corev1.LabelHostname:   hostname,
		corev1.LabelOSStable:   runtime.GOOS,
		corev1.LabelArchStable: runtime.GOARCH,
		labelBetaOS:            runtime.GOOS,
		labelBetaArch:          runtime.GOARCH,
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// reconcileDefaultLabels sets on existing the default labels that want has,
// removing those want sets empty, as the kubelet does on registration; it
// says whether existing changed.
func reconcileDefaultLabels(want, existing *corev1.Node) bool {
	changed := false
	for _, k := range defaultLabelKeys {
		v, ok := want.Labels[k]
		if !ok {
			continue
		}
		if existing.Labels == nil {
			existing.Labels = map[string]string{}
		}
		if old, had := existing.Labels[k]; had && old == v && v != "" {
			continue
		}
		if v == "" {
			if _, had := existing.Labels[k]; had {
				delete(existing.Labels, k)
				changed = true
			}
			continue
		}
		existing.Labels[k] = v
		changed = true
	}
	return changed
}

// ensureOSArchLabels sets the stable os and arch labels when they are missing
// or wrong, as the kubelet does at every status update; it says whether node
// changed.
func ensureOSArchLabels(node *corev1.Node) bool {
	changed := false
	for k, v := range map[string]string{corev1.LabelOSStable: runtime.GOOS, corev1.LabelArchStable: runtime.GOARCH} {
		if node.Labels[k] == v {
			continue
		}
		if node.Labels == nil {
			node.Labels = map[string]string{}
		}
		node.Labels[k] = v
		changed = true
	}
	return changed
}
