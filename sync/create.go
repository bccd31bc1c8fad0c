package sync

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
)

// cleanupTimeout bounds rollbacks, which run even when ctx is cancelled.
const cleanupTimeout = 30 * time.Second

// createSandbox runs a new sandbox for sp with attempt.
func (l *Loop) createSandbox(ctx context.Context, sp *manifest.StaticPod, attempt uint32) (string, *runtimeapi.PodSandboxConfig, error) {
	cfg := runtime.SandboxConfig(sp, attempt, l.cfg.PodLogsDir, l.clk.Now())
	id, err := l.rt.RunPodSandbox(ctx, cfg, "")
	if err != nil {
		return "", nil, fmt.Errorf("pod %s (%s): %w", sp.Key(), sp.File, err)
	}
	l.log.Info("sandbox created", "pod", sp.Key(), "file", sp.File, "sandbox", id, "attempt", attempt, "uid", sp.UID)
	l.event(Event{Type: EventPodCreated, Pod: sp.Key(), File: sp.File, Message: fmt.Sprintf("sandbox %s attempt %d, uid %s", short(id), attempt, sp.UID)})
	return id, cfg, nil
}

// startContainer makes sure the image is there, then creates and starts one
// container. A container created but not started is removed again.
func (l *Loop) startContainer(ctx context.Context, sp *manifest.StaticPod, sandboxID string, sandboxCfg *runtimeapi.PodSandboxConfig, s containerStart) (retErr error) {
	c := s.spec
	where := fmt.Sprintf("pod %s container %s", sp.Key(), c.Name)
	if err := l.ensureImage(ctx, c, sandboxCfg); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	cfg := runtime.ContainerConfig(sp, c, s.restartCount)
	id, err := l.rt.CreateContainer(ctx, sandboxID, cfg, sandboxCfg)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	defer func() {
		if retErr == nil {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := l.rt.RemoveContainer(cctx, id); err != nil {
			l.log.Warn("remove container that did not start", "pod", sp.Key(), "container", id, "err", err)
		}
	}()
	if s.restart {
		l.recordRestart(sp.UID + "/" + c.Name)
	}
	if err := l.rt.StartContainer(ctx, id); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	msg, typ := "container started", EventContainerStarted
	if s.restart {
		msg, typ = "container restarted", EventContainerRestarted
	}
	l.log.Info(msg, "pod", sp.Key(), "container", c.Name, "id", id, "attempt", s.restartCount)
	l.event(Event{Type: typ, Pod: sp.Key(), Container: c.Name, Message: fmt.Sprintf("%s, restart count %d", short(id), s.restartCount)})
	return nil
}

// short abbreviates a runtime ID as crictl does.
func short(id string) string {
	if len(id) > 13 {
		return id[:13]
	}
	return id
}

// ensureImage applies the container's imagePullPolicy.
func (l *Loop) ensureImage(ctx context.Context, c *corev1.Container, sandboxCfg *runtimeapi.PodSandboxConfig) error {
	if c.ImagePullPolicy != corev1.PullAlways {
		present, err := l.rt.ImagePresent(ctx, c.Image)
		if err != nil {
			return err
		}
		if present {
			return nil
		}
		if c.ImagePullPolicy == corev1.PullNever {
			return fmt.Errorf("image %s is not present and imagePullPolicy is Never", c.Image)
		}
	}
	start := l.clk.Now()
	if err := l.rt.PullImage(ctx, c.Image, sandboxCfg); err != nil {
		return err
	}
	l.log.Info("image pulled", "image", c.Image, "duration", l.clk.Now().Sub(start))
	return nil
}
