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
		s := &observedSandbox{Sandbox: runtime.SandboxOf(sb)}
		if !s.KubeletStatic || desired[s.Key()] == nil {
			continue
		}
		cs, err := l.rt.ListContainers(ctx, runtime.PodSelector(s.Namespace, s.Name))
		if err != nil {
			return fmt.Errorf("observe kubelet pod %s: %w", s.Key(), err)
		}
		for _, c := range cs {
			if oc := runtime.ContainerOf(c); oc.SandboxID == s.ID && !oc.Managed {
				s.containers = append(s.containers, &observedContainer{Container: oc})
			}
		}
		p := observed[s.Key()]
		if p == nil {
			p = &observedPod{key: s.Key()}
			observed[s.Key()] = p
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
		key := describe(s)
		if err := l.stopSandbox(ctx, key, s); err != nil {
			return err
		}
		if err := l.rt.RemovePodSandbox(ctx, s.ID); err != nil {
			return fmt.Errorf("pod %s: %w", key, err)
		}
		l.log.Info("kubelet's pod taken over", "pod", p.key, "sandbox", s.ID, "uid", s.UID, "file", p.desired.File)
		l.event(Event{Type: EventPodReplaced, Pod: p.key, File: p.desired.File, Message: fmt.Sprintf("the kubelet's sandbox %s stopped and removed: bosun runs the pod now", short(s.ID))})
	}
	return nil
}
