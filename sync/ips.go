package sync

import (
	"context"

	"github.com/bosun-sh/bosun/manifest"
)

// lookUpIPs asks the runtime once for the IP of every new ready sandbox of
// a pod-network pod, and forgets the IPs, finished and kept marks of
// sandboxes that are gone.
func (l *Loop) lookUpIPs(ctx context.Context, desired map[string]*manifest.StaticPod, observed map[string]*observedPod) {
	live := map[string]bool{}
	for key, p := range observed {
		for _, s := range p.sandboxes {
			live[s.ID] = true
			if !s.Ready {
				continue
			}
			if d := desired[key]; d != nil && d.Pod.Spec.HostNetwork {
				continue
			}
			l.mu.Lock()
			_, known := l.state(podKey(key)).ips[s.ID]
			l.mu.Unlock()
			if known {
				continue
			}
			st, err := l.rt.PodSandboxStatus(ctx, s.ID)
			if err != nil {
				continue
			}
			l.mu.Lock()
			l.state(podKey(key)).ips[s.ID] = st.GetNetwork().GetIp()
			l.mu.Unlock()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.pods {
		for id := range s.ips {
			if !live[id] {
				delete(s.ips, id)
			}
		}
		for id := range s.finished {
			if !live[id] {
				delete(s.finished, id)
			}
		}
		for id := range s.keptDead {
			if !live[id] {
				delete(s.keptDead, id)
			}
		}
	}
}
