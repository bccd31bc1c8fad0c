package sync

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/prober"
	"github.com/bosun-sh/bosun/runtime"
)

// syncProbes keeps one probe worker per probe of every running container of
// the desired pods' current version (the prober stops the others), and
// copies each running container's verdicts into observed, which plan and
// status read.
func (l *Loop) syncProbes(ctx context.Context, desired map[string]*manifest.StaticPod, observed map[string]*observedPod) {
	var running []prober.Container
	for key, p := range observed {
		sp := desired[key]
		for _, s := range p.sandboxes {
			current := sp != nil && s.Ready && s.UID == sp.UID && s.Hash == sp.Hash
			for _, c := range s.containers {
				if c.State != runtime.ContainerRunning {
					continue
				}
				var spec *corev1.Container
				if current {
					spec = specOf(sp, c.Name)
				}
				if spec == nil {
					c.probe = probeView{started: true, ready: true}
					continue
				}
				running = append(running, prober.Container{Pod: key, Spec: spec, Created: c.Created,
					Target: prober.Target{ContainerID: c.ID, Host: l.probeHost(sp.Pod.Spec.HostNetwork, l.podIP(key, s.ID)), Ports: spec.Ports}})
			}
		}
	}
	l.probes.Sync(ctx, running)
	for _, c := range running {
		v := probeView{started: l.probes.Started(c.Target.ContainerID, c.Spec)}
		v.ready, v.results = l.probes.Status(c.Target.ContainerID, c.Spec)
		if r, failed := l.probes.Failed(c.Target.ContainerID); failed {
			v.failed = &r
		}
		l.findContainer(observed[c.Pod], c.Target.ContainerID).probe = v
	}
}

// findContainer is the observed container id of p.
func (l *Loop) findContainer(p *observedPod, id string) *observedContainer {
	for _, s := range p.sandboxes {
		for _, c := range s.containers {
			if c.ID == id {
				return c
			}
		}
	}
	return nil
}

// probeHost is where network probes and hooks go when they set no host, as
// the kubelet sends them to the pod's IP: the node IP for hostNetwork pods
// (and when the pod's IP is not known), else the pod's IP; 127.0.0.1 only
// when the node has no IP.
func (l *Loop) probeHost(hostNetwork bool, podIP string) string {
	if hostNetwork || podIP == "" {
		if l.cfg.Node.HostIP != "" {
			return l.cfg.Node.HostIP
		}
		return "127.0.0.1"
	}
	return podIP
}
