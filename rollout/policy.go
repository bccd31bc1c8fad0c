package rollout

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/sync"
)

// Phase is where a pod's latest manifest version stands.
type Phase string

// The phases of a rollout.
const (
	// PhaseProgressing: the file's version is not Ready yet and its deadline
	// has not passed.
	PhaseProgressing Phase = "Progressing"
	// PhaseComplete: the file's version was Ready.
	PhaseComplete Phase = "Complete"
	// PhaseRolledBack: the file's version failed and the last Ready version
	// runs instead.
	PhaseRolledBack Phase = "RolledBack"
	// PhaseFailed: the file's version failed, and rollback is not enabled or
	// no version was Ready before.
	PhaseFailed Phase = "Failed"
)

// Reason says why a version failed.
type Reason string

// The reasons of a failed version.
const (
	ReasonDeadline  Reason = "ProgressDeadlineExceeded"
	ReasonCrashLoop Reason = "CrashLoopBackOff"
)

// Annotations on a pod that set its rollout policy.
const (
	// AnnotationRollback "true" enables rollback for the pod, "false"
	// disables it even under --rollback-on-failure.
	AnnotationRollback = "bosun.dev/rollback"
	// AnnotationProgressDeadline is a Go duration ("90s", "5m").
	AnnotationProgressDeadline = "bosun.dev/progress-deadline"
	// DefaultProgressDeadline applies without the annotation.
	DefaultProgressDeadline = 5 * time.Minute
)

// Events recorded in the loop's history.
const (
	EventRolledBack      sync.EventType = "RolledBack"
	EventRolloutFailed   sync.EventType = "RolloutFailed"
	EventRolloutComplete sync.EventType = "RolloutComplete"
)

// policy is one pod's rollout settings.
type policy struct {
	rollback bool
	deadline time.Duration
}

// policyOf reads the policy of a version of a pod: its annotations, else all
// (--rollback-on-failure) and the default deadline. A malformed annotation
// gives the default and an error naming it.
func policyOf(p *manifest.StaticPod, all bool) (policy, error) {
	pol := policy{rollback: all, deadline: DefaultProgressDeadline}
	var errs []string
	ann := p.Pod.Annotations
	if v, ok := ann[AnnotationRollback]; ok {
		switch strings.ToLower(v) {
		case "true":
			pol.rollback = true
		case "false":
			pol.rollback = false
		default:
			errs = append(errs, fmt.Sprintf("%s %q: not true or false", AnnotationRollback, v))
		}
	}
	if v, ok := ann[AnnotationProgressDeadline]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Sprintf("%s %q: not a positive duration such as 5m; %v applies", AnnotationProgressDeadline, v, DefaultProgressDeadline))
		} else {
			pol.deadline = d
		}
	}
	if len(errs) > 0 {
		return pol, fmt.Errorf("pod %s (%s): annotation %s", p.Key(), p.File, strings.Join(errs, "; "))
	}
	return pol, nil
}

// record is everything rollout knows about one pod.
type record struct {
	// lastReady is the last version of the pod that was Ready, nil when
	// none is known.
	lastReady *manifest.StaticPod
	// hash is the manifest file's version that the record is about.
	hash   string
	phase  Phase
	reason Reason
	// message says what failed.
	message string
	// since is when phase was entered.
	since time.Time
	// started is when the progress window of hash started: the creation of
	// its first sandbox seen (after a restart of bosun, of the sandbox that
	// runs), or when the pod was first seen with no sandbox at all; zero
	// while the previous version still runs.
	started time.Time
	// version and pol are the file's version (of hash) and its policy as
	// decide last saw them; nil and zero for a record read from the state
	// file until the pod's manifest is seen.
	version *manifest.StaticPod
	pol     policy
}

// decide is the rollout policy of one pod, a pure function. From the pod's
// record, the file's version, the loop's last status of the pod (nil when
// none), the pod's policy and now, it returns the next record, the version
// the loop is to run, and when to decide again (zero: at the next sync).
func decide(rec record, file *manifest.StaticPod, st *sync.PodStatus, pol policy, now time.Time) (record, *manifest.StaticPod, time.Time) {
	if rec.hash != file.Hash {
		rec = record{lastReady: readyAtEdit(rec, st, now), hash: file.Hash, phase: PhaseProgressing}
	}
	rec.version, rec.pol = file, pol
	if rec.lastReady != nil && rec.lastReady.Hash == file.Hash {
		if rec.phase != PhaseComplete {
			rec = complete(record{started: rec.started, pol: pol}, file, now)
		}
		rec.lastReady, rec.version = file, file // the newest path and content of the same version
		return rec, file, time.Time{}
	}
	switch {
	case rec.phase == PhaseRolledBack && rec.lastReady != nil:
		return rec, rec.lastReady, time.Time{}
	case rec.phase == PhaseComplete:
		return rec, file, time.Time{}
	}

	// The status speaks of the file's version only when the loop ran it.
	about := st != nil && st.Hash == file.Hash && st.RunningHash == file.Hash
	switch {
	case about && !st.Created.IsZero() && !st.SandboxDead:
		// A dead sandbox (a reboot, the pause killed) does not start the
		// window: its creation may be long past; the next one does.
		if rec.started.IsZero() || st.Created.Before(rec.started) {
			rec.started = st.Created
		}
	case st != nil && st.RunningHash == "" && rec.started.IsZero():
		rec.started = now // nothing runs: the new version cannot start
	}
	wake := time.Time{}
	if about {
		done, stable := ready(st, file, pol.deadline, now)
		if done {
			return complete(rec, file, now), file, time.Time{}
		}
		wake = stable
	}
	if rec.started.IsZero() || rec.phase == PhaseFailed {
		return rec, file, time.Time{}
	}
	end := rec.started.Add(pol.deadline)
	var reason Reason
	var msg string
	if about {
		msg = crashLooping(st)
	}
	switch {
	case msg != "":
		reason = ReasonCrashLoop
	case !now.Before(end) && (!about || !onlyWaitingForStability(st, file)):
		reason, msg = ReasonDeadline, fmt.Sprintf("not Ready within %v: %s", pol.deadline, notReady(st, file, about))
	default:
		if now.Before(end) && (wake.IsZero() || end.Before(wake)) {
			wake = end
		}
		return rec, file, wake
	}
	rec.reason, rec.message, rec.since = reason, msg, now
	if pol.rollback && rec.lastReady != nil {
		rec.phase = PhaseRolledBack
		return rec, rec.lastReady, time.Time{}
	}
	rec.phase = PhaseFailed
	return rec, file, time.Time{}
}

// complete is rec once its version, file, was seen Ready at now: the last
// Ready version, with no failure.
func complete(rec record, file *manifest.StaticPod, now time.Time) record {
	return record{lastReady: file, hash: file.Hash, phase: PhaseComplete, since: now, started: rec.started, version: file, pol: rec.pol}
}

// readyAtEdit is the last Ready version when the file's version changes
// from rec's: rec's version itself when the loop's last status shows that
// version Ready (a sync may not have decided since it got Ready), else
// rec.lastReady.
func readyAtEdit(rec record, st *sync.PodStatus, now time.Time) *manifest.StaticPod {
	v := rec.version
	if v == nil || st == nil || st.Hash != v.Hash || st.RunningHash != v.Hash || st.SandboxDead ||
		(rec.phase != PhaseProgressing && rec.phase != PhaseFailed) {
		return rec.lastReady
	}
	if done, _ := ready(st, v, rec.pol.deadline, now); done {
		return v
	}
	return rec.lastReady
}

// counted returns the containers of a pod that must be Ready for the pod to
// be, by name, each with whether it has a readiness probe: the app
// containers and the sidecars.
func counted(pod *corev1.Pod) map[string]bool {
	out := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out[c.Name] = c.ReadinessProbe != nil
		}
	}
	for _, c := range pod.Spec.Containers {
		out[c.Name] = c.ReadinessProbe != nil
	}
	return out
}

// ready reports whether the status shows the version Ready: every counted
// container Ready, and one without a readiness probe Running for the
// deadline. While not, stable is the earliest time a container without a
// probe that runs now will have run for the deadline (zero: none).
func ready(st *sync.PodStatus, file *manifest.StaticPod, deadline time.Duration, now time.Time) (done bool, stable time.Time) {
	if st.Phase == "Succeeded" {
		return true, time.Time{}
	}
	want := counted(file.Pod)
	done, seen := true, 0
	for _, c := range st.Containers {
		probed, ok := want[c.Name]
		if !ok {
			continue
		}
		seen++
		if c.State == "Terminated" && c.ExitCode == 0 && file.Pod.Spec.RestartPolicy != corev1.RestartPolicyAlways {
			continue // completed
		}
		if !c.Ready {
			done = false
			continue
		}
		if probed || c.State != "Running" {
			continue
		}
		if at := c.StartedAt.Add(deadline); now.Before(at) {
			done = false
			if stable.IsZero() || at.Before(stable) {
				stable = at
			}
		}
	}
	return done && seen == len(want), stable
}

// onlyWaitingForStability reports whether every counted container is Ready
// and those without a readiness probe never restarted: such a version is
// given the time to run for its deadline.
func onlyWaitingForStability(st *sync.PodStatus, file *manifest.StaticPod) bool {
	want := counted(file.Pod)
	seen := 0
	for _, c := range st.Containers {
		probed, ok := want[c.Name]
		if !ok {
			continue
		}
		seen++
		if !c.Ready || (!probed && (c.RestartCount > 0 || c.State != "Running")) {
			return false
		}
	}
	return seen == len(want)
}

// crashLooping describes the first container in CrashLoopBackOff, "" when
// none is.
func crashLooping(st *sync.PodStatus) string {
	for _, c := range st.Containers {
		if c.Reason != string(ReasonCrashLoop) {
			continue
		}
		msg := fmt.Sprintf("container %s in CrashLoopBackOff after %d restarts", c.Name, c.RestartCount)
		if t := c.LastTermination; t != nil {
			msg += fmt.Sprintf(", last exit code %d", t.ExitCode)
			if t.Reason != "" {
				msg += " (" + t.Reason + ")"
			}
		}
		return msg
	}
	return ""
}

// notReady says what keeps a version from being Ready.
func notReady(st *sync.PodStatus, file *manifest.StaticPod, about bool) string {
	switch {
	case st == nil:
		return "no status"
	case !about && st.SyncError != "":
		return "the pod did not start: " + st.SyncError
	case !about:
		return "the pod did not start"
	}
	want := counted(file.Pod)
	var parts []string
	for _, c := range st.Containers {
		probed, ok := want[c.Name]
		if !ok {
			continue
		}
		switch {
		case !c.Ready && c.State != "Running":
			s := fmt.Sprintf("container %s %s", c.Name, c.State)
			if c.Reason != "" {
				s += " (" + c.Reason + ")"
			}
			if c.Message != "" {
				s += ": " + c.Message
			}
			parts = append(parts, s)
		case !c.Ready:
			s := "container " + c.Name + " not ready"
			for _, p := range c.Probes {
				if p.Kind == "readiness" && !p.Success {
					s += ": readiness probe failed"
					if p.Message != "" {
						s += ": " + short(p.Message)
					}
				}
			}
			parts = append(parts, s)
		case !probed && c.RestartCount > 0:
			parts = append(parts, fmt.Sprintf("container %s restarted %d times", c.Name, c.RestartCount))
		}
	}
	if len(parts) == 0 {
		return "the pod is not Ready"
	}
	return strings.Join(parts, "; ")
}

// short is the first line of a message, cut to 120 bytes.
func short(msg string) string {
	msg, _, _ = strings.Cut(strings.TrimSpace(msg), "\n")
	if len(msg) > 120 {
		msg = strings.ToValidUTF8(msg[:117], "") + "..."
	}
	return msg
}
