package sync

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/podfs"
)

// readMessages reads, once per exited container, its termination message:
// what it wrote to its termination message file or, under
// FallbackToLogsOnError after a failure, the end of its log. A log tail
// still empty is read again next time (the runtime may still be writing the
// last lines). It runs outside the loop's lock.
func (l *Loop) readMessages(desired map[string]*manifest.StaticPod, observed map[string]*observedPod) {
	for key, p := range observed {
		for _, s := range p.sandboxes {
			for _, c := range s.containers {
				if c.exit == nil || c.exit.messageRead || c.exit.unknown {
					continue
				}
				c.exit.message = l.fs.TerminationMessage(s.UID, c.Name, c.RestartCount)
				fallback := false
				if sp := desired[key]; c.exit.message == "" && sp != nil && sp.UID == s.UID {
					if spec := specOf(sp, c.Name); spec != nil && spec.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && c.exit.exit.Code != 0 {
						fallback = true
						c.exit.message = podfs.LogTail(l.logs.ContainerLog(podRefOf(s), c.Name, c.RestartCount))
					}
				}
				c.exit.messageRead = !fallback || c.exit.message != ""
			}
		}
	}
}

// specOf is the spec of container name of a static pod (init containers
// included), nil if it has none.
func specOf(sp *manifest.StaticPod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{sp.Pod.Spec.InitContainers, sp.Pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// podRefOf names the log directory of sandbox s's pod.
func podRefOf(s *observedSandbox) podfs.PodRef {
	return podfs.PodRef{Namespace: s.Namespace, Name: s.Name, UID: s.UID}
}
