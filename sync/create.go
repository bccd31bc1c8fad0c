package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/podfs"
	"github.com/bosun-sh/bosun/runtime"
)

// cleanupTimeout bounds rollbacks, which run even when ctx is cancelled.
const cleanupTimeout = 30 * time.Second

// createSandbox runs a new sandbox for sp with attempt and returns it with
// its config and IP (empty for hostNetwork pods).
func (l *Loop) createSandbox(ctx context.Context, sp *manifest.StaticPod, attempt uint32) (podTarget, error) {
	cfg := runtime.SandboxConfig(sp, attempt, l.cfg.Node, l.clk.Now())
	if err := podfs.MkdirIn(l.cfg.Node.PodLogsDir, cfg.LogDirectory, 0o755); err != nil {
		return podTarget{}, fmt.Errorf("pod %s: log directory: %w", sp.Key(), err)
	}
	if err := l.writePodCgroup(sp); err != nil {
		return podTarget{}, fmt.Errorf("pod %s (%s): %w", sp.Key(), sp.File, err)
	}
	handler := runtime.Handler(sp.Pod)
	id, err := l.rt.RunPodSandbox(ctx, cfg, handler)
	if err != nil {
		return podTarget{}, fmt.Errorf("pod %s (%s): %w", sp.Key(), sp.File, runtime.HandlerError(handler, err))
	}
	if runtime.MissingClusterDNS(sp.Pod, l.cfg.Node) {
		l.warnDNS(sp.Key())
	}
	ip := ""
	if !sp.Pod.Spec.HostNetwork {
		if st, err := l.rt.PodSandboxStatus(ctx, id); err == nil {
			ip = st.GetNetwork().GetIp()
		}
		l.mu.Lock()
		l.state(podKey(sp.Key())).ips[id] = ip
		l.mu.Unlock()
	}
	l.log.Info("sandbox created", "pod", sp.Key(), "file", sp.File, "sandbox", id, "attempt", attempt, "uid", sp.UID, "ip", ip)
	l.event(Event{Type: EventPodCreated, Pod: sp.Key(), File: sp.File, Message: fmt.Sprintf("sandbox %s attempt %d, uid %s", short(id), attempt, sp.UID)})
	return podTarget{id: id, cfg: cfg, ip: ip}, nil
}

// warnDNS logs, once per pod, that a ClusterFirst pod has no cluster DNS.
func (l *Loop) warnDNS(key string) {
	msg := fmt.Sprintf("pod %s: dnsPolicy ClusterFirst without a cluster DNS: the pod uses the host's resolvers (Default)", key)
	l.mu.Lock()
	s := l.state(podKey(key))
	same := s.dnsWarning == msg
	s.dnsWarning = msg
	l.mu.Unlock()
	if !same {
		l.log.Warn(msg)
	}
}

// startContainer makes sure the image is there and allowed, prepares the
// container's mounts, then creates and starts it and runs its postStart
// hook. A container created but not started is removed again; one whose
// postStart hook fails is killed, and restarts per its policy.
func (l *Loop) startContainer(ctx context.Context, sp *manifest.StaticPod, t podTarget, s containerStart) (retErr error) {
	c := s.spec
	where := fmt.Sprintf("pod %s container %s", sp.Key(), c.Name)
	cfg, err := l.containerConfig(ctx, sp, t, s)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	id, err := l.rt.CreateContainer(ctx, t.id, cfg, t.cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	ref := podfs.PodRef{Namespace: sp.Namespace, Name: sp.Name, UID: sp.UID}
	l.logs.Link(ref, c.Name, id, l.logs.ContainerLog(ref, c.Name, s.restartCount))
	started := false
	defer func() {
		if retErr != nil && !started {
			l.rollBackContainer(ctx, sp, ref, c.Name, id)
		}
	}()
	if s.restart {
		l.recordRestart(sp.Key(), containerRef{sp.UID, c.Name}, s.resetBackoff)
	}
	if err := l.rt.StartContainer(ctx, id); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	started = true
	msg, typ := "container started", EventContainerStarted
	if s.restart {
		msg, typ = "container restarted", EventContainerRestarted
	}
	l.log.Info(msg, "pod", sp.Key(), "container", c.Name, "id", id, "attempt", s.restartCount)
	l.event(Event{Type: typ, Pod: sp.Key(), Container: c.Name, Message: fmt.Sprintf("%s, restart count %d", short(id), s.restartCount)})
	if err := l.postStart(ctx, sp, c, id, t.ip); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// containerConfig checks what a container needs (its image, allowed to
// run; its seccomp profile) and prepares its mounts and config.
func (l *Loop) containerConfig(ctx context.Context, sp *manifest.StaticPod, t podTarget, s containerStart) (*runtimeapi.ContainerConfig, error) {
	c := s.spec
	img, err := l.ensureImage(ctx, c, t.cfg)
	if err != nil {
		return nil, err
	}
	if err := checkNonRoot(sp.Pod, c, img); err != nil {
		return nil, err
	}
	if p := runtime.SeccompLocalhostPath(l.cfg.Node, sp.Pod, c); p != "" {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("seccomp profile %s: %w", p, errors.Unwrap(err))
		}
	}
	mounts, err := l.fs.PrepareMounts(sp, c, s.restartCount, t.ip)
	if err != nil {
		return nil, err
	}
	return runtime.ContainerConfig(sp, c, s.restartCount, l.cfg.Node, runtime.ContainerExtras{Mounts: mounts, PodIP: t.ip}), nil
}

// rollBackContainer removes a container that was created but did not
// start, even when ctx is cancelled. A start that failed may have taken
// effect all the same (its answer lost, or bosun stopping while it was
// under way): a container that is not merely created, or whose state
// cannot be read, is kept for the next sync to see, never removed while it
// may run.
func (l *Loop) rollBackContainer(ctx context.Context, sp *manifest.StaticPod, ref podfs.PodRef, name, id string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if st, err := l.rt.ContainerStatus(cctx, id); err != nil || st.GetState() != runtimeapi.ContainerState_CONTAINER_CREATED {
		l.log.Warn("container start failed, but the container may run: kept", "pod", sp.Key(), "container", id, "state", st.GetState().String(), "err", err)
		return
	}
	if err := l.rt.RemoveContainer(cctx, id); err != nil {
		l.log.Warn("remove container that did not start", "pod", sp.Key(), "container", id, "err", err)
		return
	}
	l.logs.Unlink(ref, name, id)
}

// checkNonRoot refuses to start a container that must not run as root but
// would: runAsUser 0, or no runAsUser and an image whose user is root or
// not numeric (and so cannot be checked), as the kubelet does.
func checkNonRoot(pod *corev1.Pod, c *corev1.Container, img *runtimeapi.Image) error {
	nonRoot, uid := runtime.RunAsNonRoot(pod, c)
	if !nonRoot {
		return nil
	}
	if uid != nil {
		if *uid == 0 {
			return errors.New("runAsNonRoot is set but runAsUser is 0 (root); refused")
		}
		return nil
	}
	switch {
	case img.GetUid() != nil && img.GetUid().GetValue() == 0:
		return fmt.Errorf("runAsNonRoot is set but image %s runs as root (uid 0); refused: set runAsUser", c.Image)
	case img.GetUid() == nil && img.GetUsername() != "":
		if _, err := strconv.Atoi(img.GetUsername()); err != nil {
			return fmt.Errorf("runAsNonRoot is set but image %s has the non-numeric user %q, which cannot be checked; refused: set runAsUser", c.Image, img.GetUsername())
		}
	case img.GetUid() == nil:
		return fmt.Errorf("runAsNonRoot is set but image %s runs as root (no user); refused: set runAsUser", c.Image)
	}
	return nil
}
