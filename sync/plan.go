package sync

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
)

// podPlan is what one sync of a pod does, in this order: kill the old
// sandboxes, create a sandbox if needed, start containers, collect garbage.
type podPlan struct {
	key     string
	desired *manifest.StaticPod
	// kill lists sandboxes to stop and remove with their containers.
	kill []*observedSandbox
	// takeOver lists a kubelet's sandboxes of the pod to stop and remove
	// before bosun creates its own.
	takeOver []*observedSandbox
	// create asks for a new sandbox with attempt; otherwise sandbox is the
	// current one.
	create  bool
	attempt uint32
	sandbox *observedSandbox
	// starts are containers to create and start, in spec order.
	starts []containerStart
	// startCreated are containers created but never started.
	startCreated []string
	// removes are containers of sandbox to remove, with their logs: old
	// exited instances and containers the spec no longer has.
	removes []*observedContainer
	// wait is the earliest time a backoff ends, zero if none.
	wait time.Time
	// finish is the dead sandbox of a pod that is done and gets no new
	// one: its containers are stopped and the sandbox too, but it is kept,
	// so that the next syncs still see that the pod ran.
	finish *observedSandbox
	// stop lists running containers to stop because the pod ran past its
	// activeDeadlineSeconds; nothing is started then.
	stop []*observedContainer
	// carried holds what the dead sandbox a new one replaces left of each
	// container, for the containers started in later syncs.
	carried map[string]carriedContainer
	// initFailed is set when an init container failed under restartPolicy
	// Never: the pod stays failed.
	initFailed bool
}

type containerStart struct {
	spec         *corev1.Container
	restartCount uint32
	// restart is set when an earlier instance exited, so backoff applies.
	restart bool
}

// empty reports whether the plan does nothing now.
func (p *podPlan) empty() bool {
	return len(p.kill) == 0 && !p.create && len(p.starts) == 0 && len(p.startCreated) == 0 && len(p.removes) == 0 && len(p.stop) == 0 && p.finish == nil && len(p.takeOver) == 0
}

// carriedContainer is what a dead sandbox left of one container: its last
// restart count, and whether its last instance succeeded (exit code 0).
type carriedContainer struct {
	restartCount uint32
	succeeded    bool
}

// readyFunc tells when container key may restart after an instance that ran
// from started to finished, having been restarted restarts times before.
type readyFunc func(key string, started, finished time.Time, restarts uint32) time.Time

// startedFunc tells whether a running container has started: its startup
// probe, if it has one, succeeded.
type startedFunc func(containerID string, c *corev1.Container) bool

// planEnv is what planning reads besides the pod: backoff, startup probes,
// restart counts carried over from dead sandboxes, and the time.
type planEnv struct {
	ready   readyFunc
	started startedFunc
	// carried is what a dead sandbox of pod uid left of a container; the
	// first instance in the new sandbox continues its restart count.
	carried func(uid, name string) (carriedContainer, bool)
	// stopped tells whether a dead sandbox kept for a finished pod was
	// already stopped.
	stopped func(sandboxID string) bool
	now     time.Time
}

// nextCount is the restart count of a container's first instance in a
// sandbox: 0, or one more than in the dead sandbox it replaces.
func (e planEnv) nextCount(uid, name string) uint32 {
	if c, ok := lastOf(nil, e, uid, name); ok {
		return c.restartCount + 1
	}
	return 0
}

// plan decides what to do for one pod key. desired is nil when no manifest
// asks for the key; then the pod is removed unless protected.
func plan(key string, desired *manifest.StaticPod, obs *observedPod, protected bool, env planEnv) podPlan {
	now := env.now
	p := podPlan{key: key, desired: desired}
	var sandboxes []*observedSandbox
	if obs != nil {
		sandboxes = obs.sandboxes // sorted by attempt, newest first
	}
	if desired == nil {
		if !protected {
			p.kill = sandboxes
		}
		return p
	}
	var dead *observedSandbox
	current := keeper(sandboxes, desired)
	var maxAttempt uint32
	sameUID := false
	for _, s := range sandboxes {
		if s.uid() == desired.UID {
			if !sameUID || s.attempt() > maxAttempt {
				maxAttempt = s.attempt()
			}
			sameUID = true
		}
		if s.uid() != desired.UID || s.hash() != desired.Hash {
			p.kill = append(p.kill, s)
			continue
		}
		switch {
		case s == current:
		case current == nil && dead == nil:
			dead = s
			p.kill = append(p.kill, s)
		default:
			p.kill = append(p.kill, s)
		}
	}
	if current == nil {
		if dead != nil && doneAfterDeath(desired, dead, env) {
			// The kubelet creates no new sandbox for a pod that is done.
			p.kill = slices.DeleteFunc(p.kill, func(s *observedSandbox) bool { return s == dead })
			if env.stopped == nil || !env.stopped(dead.sb.Id) {
				p.finish = dead
			}
			return p
		}
		p.create = true
		if obs != nil {
			p.takeOver = obs.kubelet
		}
		if sameUID {
			p.attempt = maxAttempt + 1
		}
		carried := lastInstances(dead)
		p.carried = carried
		first := desired.Pod.Spec.Containers
		if len(desired.Pod.Spec.InitContainers) > 0 {
			// A new sandbox runs its init containers again; the first one
			// starts with the sandbox, the rest follow in later syncs.
			first = desired.Pod.Spec.InitContainers[:1]
		}
		for i := range first {
			c := &first[i]
			last, ok := lastOf(carried, env, desired.UID, c.Name)
			if len(desired.Pod.Spec.InitContainers) == 0 && succeeded(desired.Pod.Spec.RestartPolicy, last, ok) {
				continue
			}
			rc := last.restartCount
			if ok {
				rc++
			}
			p.starts = append(p.starts, containerStart{spec: c, restartCount: rc})
		}
		return p
	}
	p.sandbox = current
	if end, ok := deadline(desired, current); ok {
		if !now.Before(end) {
			for _, c := range current.containers {
				if !c.exited() {
					p.stop = append(p.stop, c)
				}
			}
			return p // DeadlineExceeded: the pod stays failed
		}
		p.wait = end
	}
	planContainers(&p, desired, current, env)
	return p
}

// keeper is the ready sandbox of the desired uid and hash to keep, nil if
// none. Two such sandboxes are never bosun's doing: a second one was made
// behind its back, or a RunPodSandbox that timed out succeeded after all.
// Unlike the kubelet, which keeps the newest, bosun keeps the one with the
// most running containers, so that containers that run are never restarted
// for a sandbox that has none; among equals the newest attempt (sandboxes
// come newest first), as the kubelet does.
func keeper(sandboxes []*observedSandbox, desired *manifest.StaticPod) *observedSandbox {
	var best *observedSandbox
	bestRunning := -1
	for _, s := range sandboxes {
		if !s.ready() || s.uid() != desired.UID || s.hash() != desired.Hash {
			continue
		}
		running := 0
		for _, c := range s.containers {
			if c.c.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING {
				running++
			}
		}
		if running > bestRunning {
			best, bestRunning = s, running
		}
	}
	return best
}

// deadline is when a pod's activeDeadlineSeconds ends, counted from its
// sandbox's creation.
func deadline(desired *manifest.StaticPod, s *observedSandbox) (time.Time, bool) {
	d := desired.Pod.Spec.ActiveDeadlineSeconds
	if d == nil || s == nil {
		return time.Time{}, false
	}
	return time.Unix(0, s.sb.GetCreatedAt()).Add(time.Duration(*d) * time.Second), true
}

// lastInstances returns, per container name of a dead sandbox, what its
// newest instance left: its restart count, which the replacement continues,
// and whether it succeeded.
func lastInstances(s *observedSandbox) map[string]carriedContainer {
	out := map[string]carriedContainer{}
	if s == nil {
		return out
	}
	for _, c := range s.containers { // newest first
		if _, ok := out[c.name()]; !ok {
			out[c.name()] = carriedContainer{restartCount: c.restartCount, succeeded: c.exited() && c.exitCode() == 0}
		}
	}
	return out
}

// lastOf is what the newest instance of container name left in the dead
// sandboxes of pod uid: in dead (lastInstances) if it ran there, else in an
// earlier one (env.carried).
func lastOf(dead map[string]carriedContainer, env planEnv, uid, name string) (carriedContainer, bool) {
	if c, ok := dead[name]; ok {
		return c, true
	}
	if env.carried == nil {
		return carriedContainer{}, false
	}
	return env.carried(uid, name)
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

// planContainers fills the container part of a plan for a ready sandbox:
// init containers one at a time and in order (sidecars among them start and
// stay), then the app containers.
func planContainers(p *podPlan, desired *manifest.StaticPod, s *observedSandbox, env planEnv) {
	ready, now := env.ready, env.now
	byName := map[string][]*observedContainer{}
	for _, c := range s.containers { // sorted by restart count, newest first
		byName[c.name()] = append(byName[c.name()], c)
	}
	spec := &desired.Pod.Spec
	appStarted := false
	for _, c := range spec.Containers {
		if len(byName[c.Name]) > 0 {
			appStarted = true
		}
	}
	// restartAt plans a restart of an exited container, or a wake-up when
	// its backoff ends.
	restartAt := func(c *corev1.Container, latest *observedContainer) {
		at := ready(desired.UID+"/"+c.Name, latest.startedAt(), latest.finishedAt(), latest.restartCount)
		if at.After(now) {
			if p.wait.IsZero() || at.Before(p.wait) {
				p.wait = at
			}
			return
		}
		p.starts = append(p.starts, containerStart{spec: c, restartCount: latest.restartCount + 1, restart: true})
	}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		instances := byName[c.Name]
		delete(byName, c.Name)
		sidecar := IsSidecar(c)
		if len(instances) > 0 {
			p.removes = append(p.removes, garbage(instances)...)
		}
		if appStarted && !sidecar {
			continue // the init phase is over
		}
		// blocked says the init phase cannot go past this container yet.
		blocked := false
		switch {
		case len(instances) == 0:
			p.starts = append(p.starts, containerStart{spec: c, restartCount: env.nextCount(desired.UID, c.Name)})
			blocked = true
		case instances[0].c.GetState() == runtimeapi.ContainerState_CONTAINER_CREATED:
			p.startCreated = append(p.startCreated, instances[0].c.Id)
			blocked = true
		case !instances[0].exited():
			// A running sidecar lets the next one start once its startup
			// probe (if any) succeeded.
			blocked = !sidecar || !env.started(instances[0].c.Id, c)
		case !sidecar && instances[0].exitCode() == 0:
			// done
		case !sidecar && spec.RestartPolicy == corev1.RestartPolicyNever:
			p.initFailed = true
			blocked = true
		default:
			restartAt(c, instances[0])
			blocked = true
		}
		if blocked && !appStarted {
			return
		}
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		instances := byName[c.Name]
		delete(byName, c.Name)
		if len(instances) == 0 {
			if last, ok := lastOf(nil, env, desired.UID, c.Name); succeeded(spec.RestartPolicy, last, ok) {
				continue // it succeeded in a dead sandbox
			}
			p.starts = append(p.starts, containerStart{spec: c, restartCount: env.nextCount(desired.UID, c.Name)})
			continue
		}
		latest := instances[0]
		p.removes = append(p.removes, garbage(instances)...)
		switch {
		case latest.c.GetState() == runtimeapi.ContainerState_CONTAINER_CREATED:
			p.startCreated = append(p.startCreated, latest.c.Id)
		case latest.exited() && shouldRestart(spec.RestartPolicy, latest.exitCode()):
			restartAt(c, latest)
		}
	}
	for _, rest := range byName {
		p.removes = append(p.removes, rest...)
	}
}

// IsSidecar reports whether an init container is a sidecar: one with
// restartPolicy Always, which keeps running beside the app containers.
func IsSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// garbage returns the instances of one container to remove: all but the
// newest and, when the newest is not exited, the newest exited one (kept for
// `logs --previous` and its exit status).
func garbage(instances []*observedContainer) []*observedContainer {
	var out []*observedContainer
	keptExited := instances[0].exited()
	for _, c := range instances[1:] {
		if c.exited() && !keptExited {
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
