package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/prober"
	"github.com/bosun-sh/bosun/runtime"
)

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
		l.log.Warn("httpGet hook warning", "container", t.ContainerID, "warning", warning)
	}
	return err
}

// errPodGoing is why a running postStart hook is cancelled: a sync wants
// its pod's version gone (removed or replaced).
var errPodGoing = errors.New("the pod is being removed or replaced")

// hookState is the postStart hook of a pod's apply, which a sync cancels
// when it wants that version of the pod gone. It is guarded by Loop.mu.
type hookState struct {
	// hash is the version whose postStart hooks the apply runs; cancel
	// ends the one running (nil between hooks).
	hash   string
	cancel context.CancelCauseFunc
	// going is set to hash once a sync wants that version gone: its
	// remaining postStart hooks in the apply are not run.
	going string
}

// trackPostStart lets a sync stop the postStart hook of a busy pod whose
// version it no longer wants: one no longer desired and not protected (a
// removal) or one replaced by another hash. A pod that is not busy runs no
// hook: its record is reset. The kubelet likewise cancels a pod's sync when
// the pod is killed.
func (l *Loop) trackPostStart(in statusInput, busy bool) {
	want := ""
	switch {
	case in.desired != nil:
		want = in.desired.Hash
	case in.protected:
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.pods[podKey(in.key)]
	switch {
	case s == nil:
	case !busy:
		s.hook = hookState{}
	case s.hook.hash != "" && s.hook.hash != want && s.hook.going == "":
		s.hook.going = s.hook.hash
		if s.hook.cancel != nil {
			s.hook.cancel(errPodGoing)
		}
	}
}

// startPostStart records the postStart hook of version hash of pod key as
// running, with cancel to end it; false means the version is going and the
// hook must not run.
func (l *Loop) startPostStart(key podKey, hash string, cancel context.CancelCauseFunc) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := &l.state(key).hook
	if h.going == hash {
		return false
	}
	h.hash, h.cancel = hash, cancel
	return true
}

// endPostStart records that the postStart hook of pod key ended.
func (l *Loop) endPostStart(key podKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state(key).hook.cancel = nil
}

// postStart runs a container's postStart hook, if it has one, within the
// pod's grace period (at least minStopGrace seconds); when it fails, the
// container is killed as the kubelet kills it (kill: its preStop hook, then
// StopContainer, within the pod's grace period) and the error returned. A
// sync that wants the pod's version gone cancels the hook (trackPostStart);
// the container is then left to the removal or replacement, which kills it.
func (l *Loop) postStart(ctx context.Context, sp *manifest.StaticPod, c *corev1.Container, id, podIP string) error {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return nil
	}
	grace := runtime.GracePeriod(sp.Pod)
	key := podKey(sp.Key())
	hctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	if !l.startPostStart(key, sp.Hash, stop) {
		l.log.Info("postStart hook not run: the pod is being removed or replaced", "pod", sp.Key(), "container", c.Name)
		return nil
	}
	timeout := time.Duration(max(grace, minStopGrace)) * time.Second
	hctx, cancel := context.WithTimeout(hctx, timeout)
	defer cancel()
	t := prober.Target{ContainerID: id, Host: l.probeHost(sp.Pod.Spec.HostNetwork, podIP), Ports: c.Ports}
	err := l.hook(hctx, c.Lifecycle.PostStart, t, timeout)
	l.endPostStart(key)
	if errors.Is(context.Cause(hctx), errPodGoing) {
		l.log.Info("postStart hook cancelled: the pod is being removed or replaced", "pod", sp.Key(), "container", c.Name)
		return nil
	}
	if err == nil {
		return nil
	}
	l.event(Event{Type: EventContainerKilled, Pod: sp.Key(), Container: c.Name, Message: "postStart hook failed: " + err.Error()})
	l.log.Warn("postStart hook failed; killing the container", "pod", sp.Key(), "container", c.Name, "err", err)
	k := containerKill{pod: sp.Key(), name: c.Name, id: id, preStop: c.Lifecycle.PreStop, target: t, deadline: l.graceEnd(grace)}
	if kerr := l.kill(ctx, k); kerr != nil {
		return fmt.Errorf("postStart hook failed: %w; kill: %w", err, kerr)
	}
	return fmt.Errorf("postStart hook failed: %w", err)
}

// secondsUntil is the whole seconds left until t, never negative.
func (l *Loop) secondsUntil(t time.Time) int64 {
	return max(int64(t.Sub(l.clk.Now()).Round(time.Second).Seconds()), 0)
}
