package sync

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
)

// lastInstances returns, per container name of a dead sandbox, what its
// newest instance left: its restart count, which the replacement continues,
// and whether it succeeded.
func lastInstances(s *observedSandbox) map[string]carriedContainer {
	out := map[string]carriedContainer{}
	if s == nil {
		return out
	}
	for _, c := range s.containers { // newest first
		if _, ok := out[c.Name]; !ok {
			out[c.Name] = carriedContainer{restartCount: c.RestartCount, succeeded: c.Exited() && c.exitCode() == 0}
		}
	}
	return out
}

// lastOf is what the newest instance of container name left in the dead
// sandboxes of pod uid: in dead (lastInstances) if it ran there, else in an
// earlier one (the pod's state).
func lastOf(dead map[string]carriedContainer, env planEnv, uid, name string) (carriedContainer, bool) {
	if c, ok := dead[name]; ok {
		return c, true
	}
	c, ok := env.state.carried[containerRef{uid, name}]
	return c, ok
}

// succeeded reports whether an app container is done for good under a
// restart policy: under OnFailure its last instance exited with code 0. The
// kubelet does not run such a container again in a new sandbox.
func succeeded(policy corev1.RestartPolicy, last carriedContainer, found bool) bool {
	return policy == corev1.RestartPolicyOnFailure && found && last.succeeded
}

// doneAfterDeath reports whether a pod whose sandbox died is done, so that
// it gets no new sandbox, as the kubelet decides (computePodActions): under
// restartPolicy Never once any of its containers was created, under
// OnFailure once every app container succeeded.
func doneAfterDeath(desired *manifest.StaticPod, dead *observedSandbox, env planEnv) bool {
	spec := &desired.Pod.Spec
	switch spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return len(dead.containers) > 0
	case corev1.RestartPolicyOnFailure:
		last := lastInstances(dead)
		for _, c := range spec.Containers {
			if l, ok := lastOf(last, env, desired.UID, c.Name); !succeeded(spec.RestartPolicy, l, ok) {
				return false
			}
		}
		return len(spec.Containers) > 0
	}
	return false
}

// containerPlanner plans the containers of a ready sandbox.
type containerPlanner struct {
	p       *podPlan
	desired *manifest.StaticPod
	env     planEnv
	byName  map[string][]*observedContainer // newest first
}

// planContainers fills the container part of a plan for a ready sandbox:
// kills of containers whose probe failed, init containers one at a time
// and in order (sidecars among them start and stay), then the app
// containers, then garbage. It reports whether the pod is done: an init
// container failed under restartPolicy Never, or every app container is
// done for good (planApps).
func planContainers(p *podPlan, desired *manifest.StaticPod, s *observedSandbox, env planEnv) bool {
	cp := containerPlanner{p: p, desired: desired, env: env, byName: map[string][]*observedContainer{}}
	for _, c := range s.containers { // sorted by restart count, newest first
		cp.byName[c.Name] = append(cp.byName[c.Name], c)
	}
	appStarted := false
	for _, c := range desired.Pod.Spec.Containers {
		if len(cp.byName[c.Name]) > 0 {
			appStarted = true
		}
	}
	if blocked := cp.planInit(appStarted); blocked {
		return p.initFailed // the app containers wait for the init phase
	}
	done := cp.planApps()
	for _, rest := range cp.byName {
		p.removes = append(p.removes, rest...)
	}
	return done
}

// take returns the instances of container c, newest first, and plans the
// removal of the old ones and the kill of the newest when a probe asks.
func (cp *containerPlanner) take(c *corev1.Container) []*observedContainer {
	instances := cp.byName[c.Name]
	delete(cp.byName, c.Name)
	if len(instances) == 0 {
		return nil
	}
	cp.p.removes = append(cp.p.removes, garbage(instances)...)
	if latest := instances[0]; latest.State == runtime.ContainerRunning && latest.probe.failed != nil {
		cp.p.kills = append(cp.p.kills, probeKill{c: latest, spec: c, result: *latest.probe.failed})
	}
	return instances
}

// restartAt plans a restart of an exited container, or a wake-up when its
// backoff ends.
func (cp *containerPlanner) restartAt(c *corev1.Container, latest *observedContainer) {
	at, reset := cp.env.readyAt(cp.desired.UID, c, latest)
	if at.After(cp.env.now) {
		if cp.p.wait.IsZero() || at.Before(cp.p.wait) {
			cp.p.wait = at
		}
		return
	}
	cp.p.starts = append(cp.p.starts, containerStart{spec: c, restartCount: latest.RestartCount + 1, restart: true, resetBackoff: reset})
}

// planInit plans the init containers: each waits for the one before it to
// succeed (a sidecar: to run and have started); once an app container
// exists, only sidecars are looked after. It reports whether the init
// phase is not over.
func (cp *containerPlanner) planInit(appStarted bool) bool {
	spec := &cp.desired.Pod.Spec
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		instances := cp.take(c)
		sidecar := runtime.IsSidecar(c)
		if appStarted && !sidecar {
			continue // the init phase is over
		}
		if blocked := cp.planInitContainer(c, instances, sidecar); blocked && !appStarted {
			return true
		}
	}
	return false
}

// planInitContainer plans one init container and reports whether the init
// phase cannot go past it yet.
func (cp *containerPlanner) planInitContainer(c *corev1.Container, instances []*observedContainer, sidecar bool) bool {
	switch {
	case len(instances) == 0:
		cp.p.starts = append(cp.p.starts, containerStart{spec: c, restartCount: cp.env.nextCount(cp.desired.UID, c.Name)})
	case instances[0].State == runtime.ContainerCreated:
		cp.p.startCreated = append(cp.p.startCreated, instances[0].ID)
	case !instances[0].Exited():
		// A running sidecar lets the next one start once its startup
		// probe (if any) succeeded.
		return !sidecar || !instances[0].probe.started
	case !sidecar && instances[0].exitCode() == 0:
		return false // done
	case !sidecar && cp.desired.Pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
		cp.p.initFailed = true
	default:
		cp.restartAt(c, instances[0])
	}
	return true
}

// planApps plans the app containers: start the missing ones (but those
// that succeeded in a dead sandbox under OnFailure), start the created
// ones, restart the exited ones per the restart policy. It reports whether
// every app container is done for good (exited and not to run again, as
// the kubelet's computePodActions finds no container to keep or start).
func (cp *containerPlanner) planApps() bool {
	spec := &cp.desired.Pod.Spec
	done := len(spec.Containers) > 0
	for i := range spec.Containers {
		c := &spec.Containers[i]
		instances := cp.take(c)
		if len(instances) == 0 {
			if last, ok := lastOf(nil, cp.env, cp.desired.UID, c.Name); succeeded(spec.RestartPolicy, last, ok) {
				continue // it succeeded in a dead sandbox
			}
			cp.p.starts = append(cp.p.starts, containerStart{spec: c, restartCount: cp.env.nextCount(cp.desired.UID, c.Name)})
			done = false
			continue
		}
		switch latest := instances[0]; {
		case latest.State == runtime.ContainerCreated:
			cp.p.startCreated = append(cp.p.startCreated, latest.ID)
		case latest.Exited() && shouldRestart(spec.RestartPolicy, latest.exitCode()):
			cp.restartAt(c, latest)
		case latest.Exited():
			continue // done for good
		}
		done = false
	}
	return done
}

// garbage returns the instances of one container to remove: all but the
// newest and, when the newest is not exited, the newest exited one (kept for
// `logs --previous` and its exit status).
func garbage(instances []*observedContainer) []*observedContainer {
	var out []*observedContainer
	keptExited := instances[0].Exited()
	for _, c := range instances[1:] {
		if c.Exited() && !keptExited {
			keptExited = true
			continue
		}
		out = append(out, c)
	}
	return out
}

// shouldRestart applies a restart policy to an exited container.
func shouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyAlways:
		return true
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return false
}
