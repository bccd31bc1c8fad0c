package sync

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/prober"
)

// minStopGrace is the least time StopContainer ever gets, in seconds: the
// kubelet's minimumGracePeriodInSeconds, so that no container is killed
// without a chance to exit on SIGTERM.
const minStopGrace = 2

// minPodKillGrace is the least grace period of a pod kill (removal,
// replacement, a dead sandbox, activeDeadlineSeconds), in seconds: the
// kubelet's pod worker gives a pod at least one second, so that the preStop
// hooks of a pod with terminationGracePeriodSeconds 0 still run.
const minPodKillGrace = 1

// containerKill is one container to kill: its preStop hook (nil if none),
// where that hook goes, and when its grace period ends.
type containerKill struct {
	pod, name, id string
	preStop       *corev1.LifecycleHandler
	target        prober.Target
	deadline      time.Time
}

// kill is the one path by which a container is killed, as the kubelet's
// killContainer: its preStop hook runs while the grace period lasts (not
// at all when none is left), then StopContainer gets what is left of it,
// at least minStopGrace seconds. A container already gone is not an error.
func (l *Loop) kill(ctx context.Context, k containerKill) error {
	if k.preStop != nil && k.deadline.After(l.clk.Now()) {
		l.runHook(ctx, "preStop", k.pod, k.name, k.preStop, k.target, k.deadline)
	}
	grace := max(l.secondsUntil(k.deadline), minStopGrace)
	if err := l.rt.StopContainer(ctx, k.id, grace); err != nil {
		return fmt.Errorf("pod %s: stop container %s: %w", k.pod, k.name, err)
	}
	return nil
}

// graceEnd is when a grace period of seconds that starts now ends.
func (l *Loop) graceEnd(seconds int64) time.Time {
	return l.clk.Now().Add(time.Duration(seconds) * time.Second)
}
