package sync

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/prober"
	"github.com/bosun-sh/bosun/runtime"
)

// minStopGrace is the least time StopContainer gets after a preStop hook.
const minStopGrace = 2

// runHook runs a container's lifecycle hook (named for the log) until
// deadline, and logs why it failed: a failed preStop hook does not keep a
// container from stopping.
func (l *Loop) runHook(ctx context.Context, name, pod, container string, h *corev1.LifecycleHandler, t prober.Target, deadline time.Time) {
	timeout := deadline.Sub(l.clk.Now())
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := l.hook(hctx, h, t, timeout); err != nil {
		l.log.Warn(name+" hook failed", "pod", pod, "container", container, "err", err)
	}
}

// hook runs a lifecycle hook and returns why it failed; a warning (an HTTP
// redirect not followed) is logged.
func (l *Loop) hook(ctx context.Context, h *corev1.LifecycleHandler, t prober.Target, timeout time.Duration) error {
	warning, err := l.hooks.Hook(ctx, h, t, timeout)
	if warning != "" {
		l.log.Warn("httpGet hook warning", "id", t.ContainerID, "warning", warning)
	}
	return err
}

// postStart runs a container's postStart hook, if it has one, within the
// pod's grace period; when it fails, the container is killed and the error
// returned.
func (l *Loop) postStart(ctx context.Context, sp *manifest.StaticPod, c *corev1.Container, id, podIP string) error {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return nil
	}
	grace := runtime.GracePeriod(sp.Pod)
	t := prober.Target{ContainerID: id, Host: l.probeHost(sp.Pod.Spec.HostNetwork, podIP), Ports: c.Ports}
	err := l.hook(ctx, c.Lifecycle.PostStart, t, time.Duration(grace)*time.Second)
	if err == nil {
		return nil
	}
	l.event(Event{Type: EventContainerKilled, Pod: sp.Key(), Container: c.Name, Message: "postStart hook failed: " + err.Error()})
	l.log.Warn("postStart hook failed; killing the container", "pod", sp.Key(), "container", c.Name, "err", err)
	if kerr := l.rt.StopContainer(ctx, id, grace); kerr != nil {
		return fmt.Errorf("postStart hook failed: %w; kill: %w", err, kerr)
	}
	return fmt.Errorf("postStart hook failed: %w", err)
}

// secondsUntil is the whole seconds left until t, never negative.
func (l *Loop) secondsUntil(t time.Time) int64 {
	return max(int64(t.Sub(l.clk.Now()).Round(time.Second).Seconds()), 0)
}
