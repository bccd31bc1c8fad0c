package sync

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/podcgroup"
	"github.com/bosun-sh/bosun/runtime"
)

// writePodCgroup gives the pod's cgroup the sum of its containers' limits,
// before its sandbox runs (the CRI cannot). It does nothing without
// Config.PodCgroupRoot; with the systemd driver it logs once that pod-level
// limits need the cgroupfs driver.
func (l *Loop) writePodCgroup(sp *manifest.StaticPod) error {
	if l.cfg.PodCgroupRoot == "" {
		return nil
	}
	if l.cfg.Node.CgroupDriver == runtime.CgroupDriverSystemd {
		if runtime.QOSClass(sp.Pod) != corev1.PodQOSBestEffort || l.cfg.Node.PodPidsLimit > 0 {
			l.mu.Lock()
			warned := l.cgroupWarned
			l.cgroupWarned = true
			l.mu.Unlock()
			if !warned {
				l.log.Warn("pod-level cgroup limits need the cgroupfs driver: with " + l.cfg.Node.CgroupDriver + " only the containers' own limits apply")
			}
		}
		return nil
	}
	return podcgroup.Write(l.cfg.PodCgroupRoot, runtime.CgroupParent(l.cfg.Node.CgroupDriver, sp.UID), podcgroup.ForPod(sp.Pod, l.cfg.Node))
}

// removePodCgroup removes the cgroup of a pod gone for good, once its
// sandbox is removed. A failure is logged: the pod is gone either way.
func (l *Loop) removePodCgroup(key, uid string) {
	if l.cfg.PodCgroupRoot == "" || l.cfg.Node.CgroupDriver == runtime.CgroupDriverSystemd {
		return
	}
	if err := podcgroup.Remove(l.cfg.PodCgroupRoot, runtime.CgroupParent(l.cfg.Node.CgroupDriver, uid)); err != nil {
		l.log.Warn("remove pod cgroup", "pod", key, "err", err)
	}
}
