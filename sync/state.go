package sync

import (
	"maps"
	"time"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
)

// podKey is a pod's "namespace/name" (manifest.StaticPod.Key).
type podKey string

// containerRef names a container across the sandboxes of one version of a
// pod: its pod's uid and its name.
type containerRef struct{ uid, name string }

// podState is everything the loop remembers of one pod between syncs; the
// runtime holds the rest. It is guarded by Loop.mu.
type podState struct {
	// busy is set while an apply of the pod runs.
	busy bool
	// appliedAt is when the pod's last apply ended: a sync whose
	// observation began before it may not see what the apply did (a
	// container it started still listed as created), so it plans nothing
	// for the pod; the apply's wake brings a fresh one.
	appliedAt time.Time
	// syncErr is the last error of applying the pod's plan, retried at retry.
	syncErr error
	retry   time.Time
	// syncDelay is the pod's current retry delay after a failed apply.
	syncDelay time.Duration
	// delays are the CrashLoopBackOff delays of the pod's containers.
	delays map[containerRef]time.Duration
	// carried holds what a dead sandbox left of each container (its
	// restart count, which the replacement continues).
	carried map[containerRef]carriedContainer
	// ips caches the IP of each pod-network sandbox, by sandbox ID.
	ips map[string]string
	// finished holds the IDs of dead sandboxes of a pod that is done, that
	// were stopped and are kept.
	finished map[string]bool
	// keptDead holds the IDs of the dead sandboxes of a pod that lives on
	// that were stopped and are kept (podPlan.kept).
	keptDead map[string]bool
	// exits holds how each exited container ended, by container ID: an
	// exited container does not change, so it is asked for once.
	exits map[string]*exitRecord
	// fetching holds the IDs of exited containers whose ContainerStatus
	// call is in flight.
	fetching map[string]bool
	// watches holds what the loop saw of each container, by container ID,
	// on its own clock: when its exit happened and how long it ran do not
	// depend on the wall clock alone (exitClock).
	watches map[string]watch
	// listed is the start of the last observation of the pod (its
	// sandboxes and containers listed), or of the sync that made this
	// record: a container not listed then did not exist yet.
	listed time.Time
	// dnsWarning is the DNS warning already logged for the pod.
	dnsWarning string
	// hook is the postStart hook of the pod's apply (hooks.go).
	hook hookState
	// start is when the pod's version first started (noteStarts).
	start podStart
}

// podStart is when version (uid, hash) of a pod first started, on the
// loop's clock: activeDeadlineSeconds counts from it, as the kubelet counts
// from the pod's startTime, across new sandboxes.
type podStart struct {
	uid, hash string
	at        time.Time
}

// exitRecord is an exited container's end and its termination message,
// read once.
type exitRecord struct {
	exit runtime.Exit
	// message is the termination message (file, or log tail); messageRead
	// says it was looked for.
	message     string
	messageRead bool
	// unknown is set when the runtime did not say: asked again next time.
	unknown bool
	// exited and ran are the exit on the loop's clock and the run's length
	// (exitClock); placed says they are set.
	exited time.Time
	ran    time.Duration
	placed bool
}

func newPodState() *podState {
	return &podState{
		delays: map[containerRef]time.Duration{}, carried: map[containerRef]carriedContainer{},
		ips: map[string]string{}, finished: map[string]bool{}, keptDead: map[string]bool{}, exits: map[string]*exitRecord{}, fetching: map[string]bool{},
		watches: map[string]watch{},
	}
}

// state returns the record of key, made if needed; the caller holds l.mu.
// A new record counts as listed at the start of the sync under way: the
// containers made for its pod from now on did not exist then.
func (l *Loop) state(key podKey) *podState {
	s := l.pods[key]
	if s == nil {
		s = newPodState()
		s.listed = l.lastAttempt
		l.pods[key] = s
	}
	return s
}

// podMemo is a copy of what planning and status read of a pod's state,
// taken under the lock so that both run without it.
type podMemo struct {
	busy      bool
	appliedAt time.Time
	syncErr   error
	retry     time.Time
	delays    map[containerRef]time.Duration
	carried   map[containerRef]carriedContainer
	ips       map[string]string
	finished  map[string]bool
	keptDead  map[string]bool
	// start is when the pod's desired version first started (zero: not
	// yet).
	start time.Time
}

// memo copies s; the caller holds l.mu. A nil s gives an empty memo.
func (s *podState) memo() podMemo {
	if s == nil {
		return podMemo{}
	}
	return podMemo{busy: s.busy, appliedAt: s.appliedAt, syncErr: s.syncErr, retry: s.retry,
		delays: maps.Clone(s.delays), carried: maps.Clone(s.carried), ips: maps.Clone(s.ips), finished: maps.Clone(s.finished),
		keptDead: maps.Clone(s.keptDead), start: s.start.at}
}

// noteStarts keeps, for each desired pod, when its version first started.
// A version the loop has not started itself (bosun restarted) started when
// its oldest sandbox still there was created: the runtime's wall clock
// stamp, placed once on the loop's clock, so that a later move of the wall
// clock does not move the deadline. A version with no sandbox yet gets its
// start when its first sandbox is made (markStart).
func (l *Loop) noteStarts(desired map[string]*manifest.StaticPod, observed map[string]*observedPod) {
	now := l.clk.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, sp := range desired {
		s := l.state(podKey(key))
		if s.start.uid == sp.UID && s.start.hash == sp.Hash {
			continue
		}
		s.start = podStart{}
		if obs := observed[key]; obs != nil {
			for _, sb := range obs.sandboxes {
				if sb.UID != sp.UID || sb.Hash != sp.Hash {
					continue
				}
				at := now.Add(-max(now.Sub(sb.Created), 0))
				if s.start.at.IsZero() || at.Before(s.start.at) {
					s.start = podStart{uid: sp.UID, hash: sp.Hash, at: at}
				}
			}
		}
	}
}

// markStart records at as the start of version sp of a pod, unless that
// version started before.
func (l *Loop) markStart(sp *manifest.StaticPod, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.state(podKey(sp.Key()))
	if s.start.uid != sp.UID || s.start.hash != sp.Hash || s.start.at.IsZero() {
		s.start = podStart{uid: sp.UID, hash: sp.Hash, at: at}
	}
}

// forgetContainers drops the backoff of every container of uid and, unless
// the same version lives on, what its dead sandboxes left.
func (s *podState) forgetContainers(uid string, livesOn bool) {
	for ref := range s.delays {
		if ref.uid == uid {
			delete(s.delays, ref)
		}
	}
	if livesOn {
		return
	}
	for ref := range s.carried {
		if ref.uid == uid {
			delete(s.carried, ref)
		}
	}
}

// idle reports whether s holds nothing worth keeping for a pod that is
// neither desired nor observed.
func (s *podState) idle() bool {
	return !s.busy && s.syncErr == nil && len(s.carried) == 0 && len(s.delays) == 0 && len(s.fetching) == 0
}
