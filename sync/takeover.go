package sync

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
)

// Taking over a kubelet's static pods (Config.TakeOver): for each manifest,
// the sandboxes of the same pod name and namespace that a kubelet made from
// a file (kubernetes.io/config.source=file, no bosun.dev/managed label) are
// stopped and removed just before bosun creates its own, one pod at a time,
// etcd first. Pods without a manifest, and pods the kubelet did not make
// from a file, are never touched.

// observeKubelet attaches to observed the kubelet's static pod sandboxes
// (with their containers) of the pods desired names. It does nothing unless
// Config.TakeOver is set.
func (l *Loop) observeKubelet(ctx context.Context, desired map[string]*manifest.StaticPod, observed map[string]*observedPod) error {
	if !l.cfg.TakeOver || len(desired) == 0 {
		return nil
	}
	all, err := l.rt.ListPodSandbox(ctx, nil)
	if err != nil {
		return fmt.Errorf("observe kubelet pods: %w", err)
	}
	for _, sb := range all {
		if sb.GetLabels()[runtime.LabelManaged] == "true" || sb.GetAnnotations()[runtime.AnnotationConfigSource] != "file" {
			continue
		}
		m := sb.GetMetadata()
		key := m.GetNamespace() + "/" + m.GetName()
		if desired[key] == nil || sb.GetLabels()[runtime.LabelPodName] != m.GetName() || sb.GetLabels()[runtime.LabelPodNamespace] != m.GetNamespace() {
			continue
		}
		cs, err := l.rt.ListContainers(ctx, map[string]string{runtime.LabelPodName: m.GetName(), runtime.LabelPodNamespace: m.GetNamespace()})
		if err != nil {
			return fmt.Errorf("observe kubelet pod %s: %w", key, err)
		}
		s := &observedSandbox{sb: sb}
		for _, c := range cs {
			if c.GetPodSandboxId() == sb.Id && c.GetLabels()[runtime.LabelManaged] != "true" {
				s.containers = append(s.containers, &observedContainer{c: c})
			}
		}
		p := observed[key]
		if p == nil {
			p = &observedPod{key: key}
			observed[key] = p
		}
		p.kubelet = append(p.kubelet, s)
	}
	return nil
}

// takeOverFirst orders pod keys so that etcd comes first, the rest staying
// in order: the API server needs its etcd.
func takeOverFirst(keys []string) {
	etcd := func(k string) bool {
		_, name, _ := strings.Cut(k, "/")
		return strings.HasPrefix(name, "etcd")
	}
	sort.SliceStable(keys, func(i, j int) bool { return etcd(keys[i]) && !etcd(keys[j]) })
}

// takeOver stops the kubelet's sandboxes of a pod (each container within
// the grace period the kubelet recorded on it, after its preStop hook) and
// removes them. Their directories and logs stay: they are the kubelet's.
func (l *Loop) takeOver(ctx context.Context, p podPlan) error {
	for _, s := range p.takeOver {
		key := runtime.Describe(s.sb.GetMetadata())
		if err := l.stopSandbox(ctx, key, s); err != nil {
			return err
		}
		if err := l.rt.RemovePodSandbox(ctx, s.sb.Id); err != nil {
			return fmt.Errorf("pod %s: %w", key, err)
		}
		l.log.Info("kubelet's pod taken over", "pod", p.key, "sandbox", s.sb.Id, "uid", s.uid(), "file", p.desired.File)
		l.event(Event{Type: EventPodReplaced, Pod: p.key, File: p.desired.File, Message: fmt.Sprintf("the kubelet's sandbox %s stopped and removed: bosun runs the pod now", short(s.sb.Id))})
	}
	return nil
}
