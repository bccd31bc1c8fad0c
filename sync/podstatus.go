package sync

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/podfs"
	"github.com/bosun-sh/bosun/runtime"
)

// statusInput is everything one status computation reads: an immutable
// copy, so that status is computed without the loop's lock.
type statusInput struct {
	key       string
	desired   *manifest.StaticPod
	obs       *observedPod
	protected bool
	manErr    error
	now       time.Time
	memo      podMemo
	backoff   backoffPolicy
	logs      *podfs.Logs
	nodeIP    string
}

// statusInput gathers what the status of pod key reads.
func (l *Loop) statusInput(snap manifest.Snapshot, key string, desired *manifest.StaticPod, obs *observedPod, m podMemo, now time.Time) statusInput {
	return statusInput{key: key, desired: desired, obs: obs, protected: protected(snap, obs), manErr: manifestError(snap, desired, obs),
		now: now, memo: m, backoff: l.backoff, logs: l.logs, nodeIP: l.cfg.Node.HostIP}
}

// shown is the sandbox whose containers a pod's status shows: the ready
// one of the desired version, else the newest ready one, else the newest.
func (in *statusInput) shown() *observedSandbox {
	var sb *observedSandbox
	if in.obs == nil {
		return nil
	}
	for _, s := range in.obs.sandboxes {
		if sb == nil || (s.Ready && !sb.Ready) {
			sb = s
		}
		if in.desired != nil && s.UID == in.desired.UID && s.Hash == in.desired.Hash && (s.Ready || !sb.Ready) {
			return s
		}
	}
	return sb
}

// kept reports whether dead sandbox sb of the desired version is kept, as
// the sandbox of a pod that is done: finished, or to be finished by the
// next apply (a restarted bosun has not marked it yet).
func (in *statusInput) kept(sb *observedSandbox) bool {
	return in.memo.finished[sb.ID] || doneAfterDeath(in.desired, sb, planEnv{state: in.memo})
}

// podStatus computes the status of one pod from what was observed.
func podStatus(in statusInput) PodStatus {
	st := PodStatus{}
	st.Namespace, st.Name, _ = strings.Cut(in.key, "/")
	if in.memo.syncErr != nil {
		st.SyncError = in.memo.syncErr.Error()
	}
	if in.manErr != nil {
		st.ManifestError = in.manErr.Error()
	}
	sb := in.shown()
	if sb != nil {
		st.SandboxID, st.Attempt = sb.ID, sb.Attempt
		st.UID, st.Hash, st.File = sb.UID, sb.Hash, sb.Manifest
		st.Created, st.SandboxDead = sb.Created, !sb.Ready
		st.RunningHash, st.RunningSpec = sb.Hash, sb.Spec
		st.IP = in.memo.ips[sb.ID]
	}
	if in.desired != nil {
		st.UID, st.Hash, st.File = in.desired.UID, in.desired.Hash, in.desired.File
		st.HostNetwork = in.desired.Pod.Spec.HostNetwork
	}
	if st.HostNetwork {
		st.IP = in.nodeIP
	}
	if in.desired == nil {
		orphanStatus(&st, sb, in)
		return st
	}
	if sb != nil && (sb.UID != in.desired.UID || sb.Hash != in.desired.Hash || (!sb.Ready && !in.kept(sb))) {
		sb = nil // not the desired version, or a dead sandbox that is not kept
	}
	desiredStatus(&st, sb, in)
	return st
}

// orphanStatus fills the status of a pod no manifest asks for: terminating,
// or running on while protected.
func orphanStatus(st *PodStatus, sb *observedSandbox, in statusInput) {
	if sb != nil {
		st.Containers = observedContainers(sb, in, nil)
	}
	if !in.protected {
		st.Phase, st.Reason = "Terminating", "Terminating"
		return
	}
	st.Reason = summarize(st.Containers, "", sb != nil && sb.Ready)
	st.Phase = phaseOf(st.Containers, corev1.RestartPolicyAlways)
}

// desiredStatus fills the status of a desired pod from sb, the sandbox of
// its version (nil: none).
func desiredStatus(st *PodStatus, sb *observedSandbox, in statusInput) {
	spec := &in.desired.Pod.Spec
	all := append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...)
	cs := observedContainers(sb, in, all)
	for i := range cs {
		cs[i].Init = i < len(spec.InitContainers)
	}
	imageWaiting(cs, in)
	st.Containers = cs
	initDone, initText, initFailed := initProgress(cs, spec)
	app := cs[len(spec.InitContainers):]
	st.Phase = phaseOf(app, spec.RestartPolicy)
	st.Reason = summarize(app, st.SyncError, sb != nil)
	done := sb != nil && !sb.Ready // a kept dead sandbox: the pod is done
	if end, ok := deadline(in.desired, in.memo.start); ok && !in.now.Before(end) && !done {
		st.Phase, st.Reason = "Failed", "DeadlineExceeded"
		return
	}
	switch {
	case initFailed:
		st.Phase, st.Reason = "Failed", "Init:Error"
	case !initDone && sb != nil:
		st.Phase = "Pending"
		switch r := summarize(cs[:len(spec.InitContainers)], st.SyncError, true); r {
		case "CrashLoopBackOff", "Error", reasonErrImagePull, reasonImagePullBackOff, reasonErrImageNeverPull:
			st.Reason = "Init:" + r
		default:
			st.Reason = initText
		}
	}
}

// phaseOf is the pod phase from its containers.
func phaseOf(cs []ContainerStatus, policy corev1.RestartPolicy) string {
	running, succeeded, failed := 0, 0, 0
	for _, c := range cs {
		switch {
		case c.State == "Running":
			running++
		case c.State == "Terminated" && c.ExitCode == 0:
			succeeded++
		case c.State == "Terminated":
			failed++
		}
	}
	switch {
	case len(cs) == 0:
		return "Pending"
	case running > 0:
		return "Running"
	case succeeded+failed == len(cs) && policy != corev1.RestartPolicyAlways:
		if failed > 0 && policy == corev1.RestartPolicyNever {
			return "Failed"
		}
		if failed == 0 {
			return "Succeeded"
		}
	}
	if running == 0 && succeeded+failed < len(cs) {
		return "Pending"
	}
	return "Running"
}

// summarize is the STATUS column of `bosun ps`: the first waiting or
// terminated reason of a container, as kubectl shows it.
func summarize(cs []ContainerStatus, syncErr string, haveSandbox bool) string {
	for _, c := range cs {
		if c.State == "Waiting" && c.Reason != "" && c.Reason != "ContainerCreating" {
			return c.Reason
		}
	}
	if syncErr != "" {
		if !haveSandbox {
			return "SandboxError"
		}
		return "CreateContainerError"
	}
	running, done := 0, 0
	reason := ""
	for _, c := range cs {
		switch c.State {
		case "Running":
			running++
		case "Terminated":
			done++
			if reason == "" || c.Reason == "Error" {
				reason = c.Reason
			}
		}
	}
	switch {
	case !haveSandbox || (running == 0 && done == 0):
		return "ContainerCreating"
	case done == len(cs):
		return reason
	case done > 0 && running == 0:
		return reason
	}
	return "Running"
}

// initProgress says whether a pod's init phase is over, how far it is
// ("Init:1/3") and whether it failed for good (restartPolicy Never).
func initProgress(cs []ContainerStatus, spec *corev1.PodSpec) (bool, string, bool) {
	n := len(spec.InitContainers)
	if n == 0 {
		return true, "", false
	}
	for _, c := range cs[n:] {
		if c.ID != "" {
			return true, "", false // an app container exists: init is over
		}
	}
	done := 0
	for i, c := range cs[:n] {
		sidecar := runtime.IsSidecar(&spec.InitContainers[i])
		switch {
		case sidecar && c.State == "Running", !sidecar && c.State == "Terminated" && c.ExitCode == 0:
			done++
		case !sidecar && c.State == "Terminated" && spec.RestartPolicy == corev1.RestartPolicyNever:
			return false, "", true
		}
	}
	return done == n, fmt.Sprintf("Init:%d/%d", done, n), false
}
