package sync

import (
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/podfs"
)

// podFS is the pods' part of --root-dir; podfs owns every file below it.
func (l *Loop) podFS() *podfs.FS {
	return &podfs.FS{Node: l.cfg.Node, Log: l.log}
}

// prepareMounts makes everything a container mounts exist on disk and
// returns its mounts (podfs.FS.PrepareMounts).
func (l *Loop) prepareMounts(sp *manifest.StaticPod, c *corev1.Container, restartCount uint32, podIP string) ([]*runtimeapi.Mount, error) {
	return l.podFS().PrepareMounts(sp, c, restartCount, podIP)
}

// terminationMessage reads what a container instance wrote to its
// termination message file (podfs.FS.TerminationMessage).
func (l *Loop) terminationMessage(uid, container string, restartCount uint32) string {
	return l.podFS().TerminationMessage(uid, container, restartCount)
}

// removePodDir unmounts what bosun mounted below a pod's directory and
// removes it, once the pod is gone for good.
func (l *Loop) removePodDir(uid string) {
	if err := l.podFS().RemovePodDir(uid); err != nil {
		l.log.Warn("remove pod directory", "uid", uid, "err", err)
	}
}
