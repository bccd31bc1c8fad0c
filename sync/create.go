package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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

// createSandbox runs a new sandbox for sp with attempt and returns its ID,
// config and IP (empty for hostNetwork pods).
func (l *Loop) createSandbox(ctx context.Context, sp *manifest.StaticPod, attempt uint32) (string, *runtimeapi.PodSandboxConfig, string, error) {
	cfg := runtime.SandboxConfig(sp, attempt, l.cfg.Node, l.clk.Now())
	if err := podfs.MkdirIn(l.cfg.Node.PodLogsDir, cfg.LogDirectory, 0o755); err != nil {
		return "", nil, "", fmt.Errorf("pod %s: log directory: %w", sp.Key(), err)
	}
	if err := l.writePodCgroup(ctx, sp); err != nil {
		return "", nil, "", fmt.Errorf("pod %s (%s): %w", sp.Key(), sp.File, err)
	}
	handler := runtime.Handler(sp.Pod)
	id, err := l.rt.RunPodSandbox(ctx, cfg, handler)
	if err != nil {
		return "", nil, "", fmt.Errorf("pod %s (%s): %w", sp.Key(), sp.File, runtime.HandlerError(handler, err))
	}
	ip := ""
	if runtime.MissingClusterDNS(sp.Pod, l.cfg.Node) {
		l.reportOnce(ctx, slog.LevelWarn, "dns:"+sp.Key(), fmt.Sprintf("pod %s: dnsPolicy ClusterFirst without a cluster DNS: the pod uses the host's resolvers (Default)", sp.Key()))
	}
	if !sp.Pod.Spec.HostNetwork {
		if st, err := l.rt.PodSandboxStatus(ctx, id); err == nil {
			ip = st.GetNetwork().GetIp()
		}
		l.mu.Lock()
		l.ips[id] = ip
		l.mu.Unlock()
	}
	l.log.Info("sandbox created", "pod", sp.Key(), "file", sp.File, "sandbox", id, "attempt", attempt, "uid", sp.UID, "ip", ip)
	l.event(Event{Type: EventPodCreated, Pod: sp.Key(), File: sp.File, Message: fmt.Sprintf("sandbox %s attempt %d, uid %s", short(id), attempt, sp.UID)})
	return id, cfg, ip, nil
}

// podIP is the cached IP of a sandbox.
func (l *Loop) podIP(sandboxID string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ips[sandboxID]
}

// startContainer makes sure the image is there and allowed, prepares the
// container's mounts, then creates and starts it and runs its postStart
// hook. A container created but not started is removed again; one whose
// postStart hook fails is killed, and restarts per its policy.
func (l *Loop) startContainer(ctx context.Context, sp *manifest.StaticPod, sandboxID string, sandboxCfg *runtimeapi.PodSandboxConfig, podIP string, s containerStart) (retErr error) {
	c := s.spec
	where := fmt.Sprintf("pod %s container %s", sp.Key(), c.Name)
	img, err := l.ensureImage(ctx, c, sandboxCfg)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if err := checkNonRoot(sp.Pod, c, img); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if p := runtime.SeccompLocalhostPath(l.cfg.Node, sp.Pod, c); p != "" {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s: seccomp profile %s: %w", where, p, errors.Unwrap(err))
		}
	}
	mounts, err := l.prepareMounts(sp, c, s.restartCount, podIP)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	cfg := runtime.ContainerConfig(sp, c, s.restartCount, l.cfg.Node, runtime.ContainerExtras{Mounts: mounts, PodIP: podIP})
	id, err := l.rt.CreateContainer(ctx, sandboxID, cfg, sandboxCfg)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	l.linkLog(sandboxCfg.GetMetadata(), c.Name, id, filepath.Join(sandboxCfg.GetLogDirectory(), cfg.GetLogPath()))
	started := false
	defer func() {
		if retErr == nil || started {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := l.rt.RemoveContainer(cctx, id); err != nil {
			l.log.Warn("remove container that did not start", "pod", sp.Key(), "container", id, "err", err)
			return
		}
		l.unlinkLog(sandboxCfg.GetMetadata(), c.Name, id)
	}()
	if s.restart {
		l.recordRestart(sp.UID + "/" + c.Name)
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
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		target := handlerTarget{containerID: id, host: l.probeHost(sp.Pod.Spec.HostNetwork, podIP), ports: c.Ports}
		if err := l.runHandler(ctx, c.Lifecycle.PostStart, target, time.Duration(runtime.GracePeriodOf(cfg.Annotations))*time.Second); err != nil {
			l.event(Event{Type: EventContainerKilled, Pod: sp.Key(), Container: c.Name, Message: "postStart hook failed: " + err.Error()})
			l.log.Warn("postStart hook failed; killing the container", "pod", sp.Key(), "container", c.Name, "err", err)
			if kerr := l.rt.StopContainer(ctx, id, gracePeriodOf(sp.Pod)); kerr != nil {
				return fmt.Errorf("%s: postStart hook failed: %w; kill: %w", where, err, kerr)
			}
			return fmt.Errorf("%s: postStart hook failed: %w", where, err)
		}
	}
	return nil
}

func gracePeriodOf(pod *corev1.Pod) int64 {
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return *g
	}
	return manifest.DefaultTerminationGracePeriod
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

// short abbreviates a runtime ID as crictl does.
func short(id string) string {
	if len(id) > 13 {
		return id[:13]
	}
	return id
}

// Reasons of an image that is not there, as the kubelet shows them: a pull
// that failed, and an image missing under imagePullPolicy Never.
const (
	reasonErrImagePull      = "ErrImagePull"
	reasonErrImageNeverPull = "ErrImageNeverPull"
	// reasonImagePullBackOff is an ErrImagePull waiting for its retry.
	reasonImagePullBackOff = "ImagePullBackOff"
)

// imageError is a container's image that is not there: the pull failed
// (ErrImagePull) or is not allowed (ErrImageNeverPull). The pod's sync is
// retried with its backoff; the status shows the reason on the container.
type imageError struct {
	container, image, reason string
	err                      error
}

func (e *imageError) Error() string { return e.err.Error() }
func (e *imageError) Unwrap() error { return e.err }

// ensureImage applies the container's imagePullPolicy and returns the image.
func (l *Loop) ensureImage(ctx context.Context, c *corev1.Container, sandboxCfg *runtimeapi.PodSandboxConfig) (*runtimeapi.Image, error) {
	if c.ImagePullPolicy != corev1.PullAlways {
		img, err := l.rt.ImageStatus(ctx, c.Image)
		if err != nil {
			return nil, err
		}
		if img != nil {
			return img, nil
		}
		if c.ImagePullPolicy == corev1.PullNever {
			return nil, &imageError{container: c.Name, image: c.Image, reason: reasonErrImageNeverPull,
				err: fmt.Errorf("image %s is not present and imagePullPolicy is Never", c.Image)}
		}
	}
	start := l.clk.Now()
	if err := l.rt.PullImage(ctx, c.Image, sandboxCfg); err != nil {
		return nil, &imageError{container: c.Name, image: c.Image, reason: reasonErrImagePull, err: err}
	}
	l.log.Info("image pulled", "image", c.Image, "duration", l.clk.Now().Sub(start))
	img, err := l.rt.ImageStatus(ctx, c.Image)
	if err != nil {
		return nil, err
	}
	if img == nil {
		return nil, fmt.Errorf("image %s: pulled but not present", c.Image)
	}
	return img, nil
}
