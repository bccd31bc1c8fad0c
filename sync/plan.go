package sync

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/prober"
	"github.com/bosun-sh/bosun/runtime"
)

// podPlan is what one sync of a pod does, in this order: take over a
// kubelet's sandboxes, kill the old sandboxes, keep the newest dead one,
// finish a pod that is done (then nothing else), create a sandbox if
// needed, stop (deadline) or kill (probe) containers, start containers,
// collect garbage.
type podPlan struct {
	key     string
	desired *manifest.StaticPod
	// kill lists sandboxes to stop and remove with their containers.
	kill []*observedSandbox
	// kept is the newest dead sandbox of the desired version that is not
	// the current one: as the kubelet's garbage collection keeps the newest
	// dead sandbox of a pod that exists (evictSandboxes), it stays until a
	// newer one dies or the pod goes. keepStop asks to stop it (its
	// containers, then the sandbox, which releases its network) once: the
	// runtime does not say whether a dead sandbox was stopped. keepRemoves
	// are its old instances to remove, all but the newest of each name.
	kept        *observedSandbox
	keepStop    bool
	keepRemoves []*observedContainer
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
	// wait is the earliest time a backoff or deadline ends, zero if none.
	wait time.Time
	// finish is the sandbox of a pod that is done: the ready one once
	// every app container is done for good or an init container failed
	// under restartPolicy Never, or a dead one that gets no new one. Its
	// containers (sidecars too) are stopped and the sandbox too, which
	// releases its IP and host ports, but it is kept, so that the next
	// syncs still see that the pod ran.
	finish *observedSandbox
	// stop lists running containers to stop because the pod ran past its
	// activeDeadlineSeconds; nothing is started then.
	stop []*observedContainer
	// kills lists running containers whose startup or liveness probe
	// failed: they are killed and restart per their policy.
	kills []probeKill
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
	// restart is set when an earlier instance exited, so backoff applies;
	// resetBackoff when that instance ran long enough to forget it.
	restart, resetBackoff bool
}

// probeKill is a running container to kill because a probe failed.
type probeKill struct {
	c      *observedContainer
	spec   *corev1.Container
	result prober.Result
}

// empty reports whether the plan does nothing now.
func (p *podPlan) empty() bool {
	return len(p.kill) == 0 && !p.create && len(p.starts) == 0 && len(p.startCreated) == 0 && len(p.removes) == 0 &&
		len(p.stop) == 0 && p.finish == nil && len(p.takeOver) == 0 && len(p.kills) == 0 && !p.keepStop && len(p.keepRemoves) == 0
}

// creation reports whether the plan makes a new pod and kills nothing:
// those are bounded in flight (Config.MaxCreations), replacements are not.
func (p *podPlan) creation() bool {
	return p.create && len(p.kill) == 0 && len(p.takeOver) == 0 && p.kept == nil
}

// survivors are the sandboxes of the pod that stay after the plan's kills:
// the current one, the kept dead one, the finished one.
func (p *podPlan) survivors() []*observedSandbox {
	var out []*observedSandbox
	for _, s := range []*observedSandbox{p.sandbox, p.kept, p.finish} {
		if s != nil && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// carriedContainer is what a dead sandbox left of one container: its last
// restart count, and whether its last instance succeeded (exit code 0).
type carriedContainer struct {
	restartCount uint32
	succeeded    bool
}

// planEnv is what planning reads besides the pod: the time, the backoff
// policy and a copy of the pod's state (delays, carried restart counts,
// finished sandboxes).
type planEnv struct {
	now     time.Time
	backoff backoffPolicy
	state   podMemo
}

// readyAt is when container c (of pod uid) may restart after its exited
// instance latest, and whether its backoff is to be reset.
func (e planEnv) readyAt(uid string, c *corev1.Container, latest *observedContainer) (time.Time, bool) {
	d, ok := e.state.delays[containerRef{uid, c.Name}]
	exited, ran := latest.exitedAt()
	return e.backoff.readyAt(d, ok, ran, exited, latest.RestartCount)
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
// asks for the key; then the pod is removed unless protected. It is a pure
// function of its arguments.
func plan(key string, desired *manifest.StaticPod, obs *observedPod, protected bool, env planEnv) podPlan {
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
	current := keeper(sandboxes, desired)
	kept, maxAttempt, sameUID := p.sortSandboxes(sandboxes, current, desired)
	var dead *observedSandbox // the sandbox a new one replaces
	if current == nil {
		dead = kept
	}
	p.kept = kept
	if dead != nil && doneAfterDeath(desired, dead, env) {
		// The kubelet creates no new sandbox for a pod that is done, and
		// its activeDeadlineSeconds no longer counts.
		if !env.state.finished[dead.ID] {
			p.finish = dead
		}
		return p
	}
	if kept != nil {
		p.keepStop = !env.state.keptDead[kept.ID] && !env.state.finished[kept.ID]
		p.keepRemoves = keptGarbage(kept, current)
	}
	if end, ok := deadline(desired, env.state.start); ok {
		if !env.now.Before(end) {
			// DeadlineExceeded: the pod stays failed, in no new sandbox.
			for _, c := range containersOf(current) {
				if !c.Exited() {
					p.stop = append(p.stop, c)
				}
			}
			p.sandbox = current
			return p
		}
		p.wait = end
	}
	if current == nil {
		if obs != nil {
			p.takeOver = obs.kubelet
		}
		p.planCreate(desired, dead, env)
		if sameUID {
			p.attempt = maxAttempt + 1
		}
		return p
	}
	p.sandbox = current
	if done := planContainers(&p, desired, current, env); done {
		// The kubelet kills a pod that is done: its sidecars and its
		// sandbox stop, nothing starts again (computePodActions); the
		// sandbox stopped is then the newest dead one, the only one kept.
		kill := p.kill
		if kept != nil {
			kill = append(kill, kept)
		}
		return podPlan{key: key, desired: desired, kill: kill, finish: current, initFailed: p.initFailed}
	}
	return p
}

// keptGarbage returns the instances of the kept dead sandbox s to remove,
// as the kubelet's container garbage collection keeps one dead instance per
// container: all but the newest of each name, and that one too once the
// current sandbox (nil: none) has an exited instance of the name.
func keptGarbage(s, current *observedSandbox) []*observedContainer {
	newer := map[string]bool{}
	for _, c := range containersOf(current) {
		if c.Exited() {
			newer[c.Name] = true
		}
	}
	var out []*observedContainer
	seen := map[string]bool{}
	for _, c := range s.containers { // newest first
		if seen[c.Name] || newer[c.Name] {
			out = append(out, c)
		}
		seen[c.Name] = true
	}
	return out
}

// sortSandboxes puts every sandbox to kill but current and the newest dead
// sandbox of the desired version, and returns that one (nil: none), the
// highest attempt of the desired uid, and whether the uid has one.
func (p *podPlan) sortSandboxes(sandboxes []*observedSandbox, current *observedSandbox, desired *manifest.StaticPod) (kept *observedSandbox, maxAttempt uint32, sameUID bool) {
	for _, s := range sandboxes {
		if s.UID == desired.UID {
			if !sameUID || s.Attempt > maxAttempt {
				maxAttempt = s.Attempt
			}
			sameUID = true
		}
		switch {
		case s.UID != desired.UID || s.Hash != desired.Hash:
			p.kill = append(p.kill, s)
		case s == current:
		case !s.Ready && kept == nil:
			kept = s
		default:
			p.kill = append(p.kill, s)
		}
	}
	return kept, maxAttempt, sameUID
}

// planCreate plans a new sandbox after dead (nil: there was none) and the
// containers it starts with.
func (p *podPlan) planCreate(desired *manifest.StaticPod, dead *observedSandbox, env planEnv) {
	p.create = true
	carried := lastInstances(dead)
	p.carried = carried
	spec := &desired.Pod.Spec
	first := spec.Containers
	if len(spec.InitContainers) > 0 {
		// A new sandbox runs its init containers again; the first one
		// starts with the sandbox, the rest follow in later syncs.
		first = spec.InitContainers[:1]
	}
	for i := range first {
		c := &first[i]
		last, ok := lastOf(carried, env, desired.UID, c.Name)
		if len(spec.InitContainers) == 0 && succeeded(spec.RestartPolicy, last, ok) {
			continue
		}
		rc := last.restartCount
		if ok {
			rc++
		}
		p.starts = append(p.starts, containerStart{spec: c, restartCount: rc})
	}
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
		if !s.Ready || s.UID != desired.UID || s.Hash != desired.Hash {
			continue
		}
		running := 0
		for _, c := range s.containers {
			if c.State == runtime.ContainerRunning {
				running++
			}
		}
		if running > bestRunning {
			best, bestRunning = s, running
		}
	}
	return best
}

// deadline is when a pod's activeDeadlineSeconds ends, counted from
// start, when its version first started on the loop's clock (zero: not
// yet), as the kubelet counts from the pod's startTime.
func deadline(desired *manifest.StaticPod, start time.Time) (time.Time, bool) {
	d := desired.Pod.Spec.ActiveDeadlineSeconds
	if d == nil || start.IsZero() {
		return time.Time{}, false
	}
	return start.Add(time.Duration(*d) * time.Second), true
}

// containersOf lists the containers of s, none when s is nil.
func containersOf(s *observedSandbox) []*observedContainer {
	if s == nil {
		return nil
	}
	return s.containers
}
