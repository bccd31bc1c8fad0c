package sync

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
	"github.com/bosun-sh/bosun/runtime/crilog"
)

// PodStatus is what bosun knows of one pod, for `bosun ps` and the API.
type PodStatus struct {
	Namespace string
	Name      string
	UID       string
	Hash      string
	File      string
	// Phase is Pending, Running, Succeeded, Failed or Terminating (no
	// manifest asks for it any more).
	Phase string
	// Reason is the one-word status kubectl would show (CrashLoopBackOff,
	// ContainerCreating, Error, Completed, ...).
	Reason      string
	SandboxID   string
	Attempt     uint32
	IP          string
	HostNetwork bool
	Created     time.Time
	Containers  []ContainerStatus
	// SyncError is the last error of acting on the pod, until it succeeds.
	SyncError string
	// ManifestError is set while the pod's manifest does not load and the
	// pod runs from its last good version (or from what was running).
	ManifestError string
	// RunningHash and RunningSpec are the hash and the Pod spec (JSON; empty
	// for a sandbox made by an older bosun) of the version the pod's
	// sandbox runs; empty when no sandbox runs.
	RunningHash string
	RunningSpec string
}

// Key is "namespace/name".
func (p *PodStatus) Key() string { return p.Namespace + "/" + p.Name }

// ContainerStatus is one container of a PodStatus.
type ContainerStatus struct {
	Name         string
	ID           string
	Image        string
	State        string // Waiting, Running, Terminated
	Reason       string
	Message      string
	ExitCode     int32
	StartedAt    time.Time
	FinishedAt   time.Time
	RestartCount uint32
	// BackoffUntil is when a container in CrashLoopBackOff may restart.
	BackoffUntil time.Time
	LogPath      string
	// LastTermination describes the previous instance, when one exited.
	LastTermination *Termination
	Ready           bool
	Probes          []ProbeResult
	// Init is set for init containers (sidecars included).
	Init bool
}

// ProbeResult is the last result of one probe of a container.
type ProbeResult struct {
	// Kind is startup, liveness or readiness.
	Kind                string
	Success             bool
	Message             string
	ConsecutiveFailures int32
	Last                time.Time
}

// Termination is how a container instance ended.
type Termination struct {
	ExitCode   int32
	Reason     string
	Message    string
	StartedAt  time.Time
	FinishedAt time.Time
}

// ManifestStatus is a file of the manifest directory that bosun does not
// run: a manifest that does not load (Error), or an entry that is not read
// as a manifest at all (Ignored, the reason: a dotfile, a subdirectory, an
// editor or package manager leftover, another name). Exactly one is set.
type ManifestStatus struct {
	File    string
	Error   string
	Ignored string
}

// statusInput is everything one status computation reads.
type statusInput struct {
	key     string
	desired *manifest.StaticPod
	obs     *observedPod
	syncErr error
	// syncRetry is when a failed sync is tried again.
	syncRetry  time.Time
	protected  bool
	manErr     error
	ready      readyFunc
	now        time.Time
	podLogsDir string
	ips        map[string]string
	nodeIP     string
	// probes gives a running container's readiness and probe results.
	probes func(containerID string, c *corev1.Container) (bool, []ProbeResult)
	// termMessage reads a container instance's termination message file.
	termMessage func(uid, container string, restartCount uint32) string
	// finished holds the dead sandboxes kept for pods that are done; their
	// containers are the pod's last word.
	finished map[string]bool
}

// podStatus computes the status of one pod from what was observed.
func podStatus(in statusInput) PodStatus {
	st := PodStatus{}
	ns, name, _ := strings.Cut(in.key, "/")
	st.Namespace, st.Name = ns, name
	if in.syncErr != nil {
		st.SyncError = in.syncErr.Error()
	}
	if in.manErr != nil {
		st.ManifestError = in.manErr.Error()
	}
	var sb *observedSandbox
	if in.obs != nil {
		for _, s := range in.obs.sandboxes {
			if sb == nil || (s.ready() && !sb.ready()) {
				sb = s
			}
			if in.desired != nil && s.uid() == in.desired.UID && s.hash() == in.desired.Hash && (s.ready() || !sb.ready()) {
				sb = s
				break
			}
		}
	}
	if sb != nil {
		st.SandboxID, st.Attempt = sb.sb.Id, sb.attempt()
		st.UID, st.Hash, st.File = sb.uid(), sb.hash(), sb.manifest()
		st.Created = time.Unix(0, sb.sb.CreatedAt)
		st.RunningHash, st.RunningSpec = sb.hash(), sb.sb.GetAnnotations()[runtime.AnnotationSpec]
	}
	if in.desired != nil {
		st.UID, st.Hash, st.File = in.desired.UID, in.desired.Hash, in.desired.File
		st.HostNetwork = in.desired.Pod.Spec.HostNetwork
	}
	if sb != nil {
		st.IP = in.ips[sb.sb.Id]
	}
	if st.HostNetwork {
		st.IP = in.nodeIP
	}

	switch {
	case in.desired == nil && !in.protected:
		st.Phase, st.Reason = "Terminating", "Terminating"
	case in.desired == nil:
		st.Phase = "Running"
	}
	if in.desired == nil {
		if sb != nil {
			st.Containers = observedContainers(sb, in, nil)
		}
		if st.Phase == "Running" {
			st.Reason = summarize(st.Containers, "", sb != nil && sb.ready())
			st.Phase = phaseOf(st.Containers, corev1.RestartPolicyAlways)
		}
		return st
	}
	matches := sb != nil && sb.uid() == in.desired.UID && sb.hash() == in.desired.Hash && (sb.ready() || in.finished[sb.sb.Id])
	if !matches {
		sb = nil
	}
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
	if end, ok := deadline(in.desired, sb); ok && !in.now.Before(end) {
		st.Phase, st.Reason = "Failed", "DeadlineExceeded"
		return st
	}
	switch {
	case initFailed:
		st.Phase, st.Reason = "Failed", "Init:Error"
	case !initDone && sb != nil:
		st.Phase = "Pending"
		if r := summarize(cs[:len(spec.InitContainers)], st.SyncError, true); r == "CrashLoopBackOff" || r == "Error" || r == reasonErrImagePull || r == reasonImagePullBackOff || r == reasonErrImageNeverPull {
			st.Reason = "Init:" + r
		} else {
			st.Reason = initText
		}
	}
	return st
}

// observedContainers lists the containers of a sandbox in spec order (or by
// name without a spec), with their newest instance.
func observedContainers(sb *observedSandbox, in statusInput, spec []corev1.Container) []ContainerStatus {
	byName := map[string][]*observedContainer{}
	var names []string
	if sb != nil {
		for _, c := range sb.containers {
			if _, ok := byName[c.name()]; !ok && spec == nil {
				names = append(names, c.name())
			}
			byName[c.name()] = append(byName[c.name()], c)
		}
	}
	if spec != nil {
		for _, c := range spec {
			names = append(names, c.Name)
		}
	} else {
		sort.Strings(names)
	}
	policy := corev1.RestartPolicyAlways
	if in.desired != nil {
		policy = in.desired.Pod.Spec.RestartPolicy
	}
	out := make([]ContainerStatus, 0, len(names))
	for i, name := range names {
		cs := ContainerStatus{Name: name, State: "Waiting", Reason: "ContainerCreating"}
		if spec != nil {
			cs.Image = spec[i].Image
		}
		instances := byName[name]
		if len(instances) == 0 {
			out = append(out, cs)
			continue
		}
		latest := instances[0]
		cs.ID, cs.RestartCount = latest.c.Id, latest.restartCount
		cs.Image = latest.c.GetImage().GetImage()
		if sb != nil {
			m := sb.sb.GetMetadata()
			cs.LogPath = filepath.Join(runtime.PodLogDir(in.podLogsDir, m.GetNamespace(), m.GetName(), m.GetUid()), runtime.ContainerLogPath(name, latest.restartCount))
		}
		var c *corev1.Container
		if spec != nil {
			c = &spec[i]
		}
		switch latest.c.GetState() {
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
			cs.State, cs.Reason, cs.Ready = "Running", "", true
			cs.StartedAt = time.Unix(0, latest.c.CreatedAt)
			if in.probes != nil {
				cs.Ready, cs.Probes = in.probes(latest.c.Id, c)
			}
		case runtimeapi.ContainerState_CONTAINER_CREATED:
			cs.State, cs.Reason = "Waiting", "ContainerCreating"
		default:
			cs.State = "Terminated"
			cs.ExitCode, cs.Reason, cs.Message = latest.exitCode(), latest.status.GetReason(), latest.status.GetMessage()
			if in.termMessage != nil && sb != nil {
				if m := in.termMessage(sb.uid(), name, latest.restartCount); m != "" {
					cs.Message = m
				} else if c != nil && c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && cs.ExitCode != 0 {
					cs.Message = logTail(cs.LogPath)
				}
			}
			cs.StartedAt, cs.FinishedAt = latest.startedAt(), latest.finishedAt()
			if cs.Reason == "" || cs.Reason == "Completed" || cs.Reason == "Error" {
				cs.Reason = "Completed"
				if cs.ExitCode != 0 {
					cs.Reason = "Error"
				}
			}
			if shouldRestart(policy, cs.ExitCode) && in.desired != nil {
				at := in.ready(in.desired.UID+"/"+name, latest.startedAt(), latest.finishedAt(), latest.restartCount)
				if at.After(in.now) {
					cs.LastTermination = &Termination{ExitCode: cs.ExitCode, Reason: cs.Reason, Message: cs.Message, StartedAt: cs.StartedAt, FinishedAt: cs.FinishedAt}
					cs.State, cs.Reason, cs.BackoffUntil = "Waiting", "CrashLoopBackOff", at
					cs.Message = "back-off " + at.Sub(in.now).Round(time.Second).String() + " restarting failed container"
				}
			}
		}
		if cs.LastTermination == nil {
			for _, prev := range instances[1:] {
				if prev.exited() {
					cs.LastTermination = &Termination{ExitCode: prev.exitCode(), Reason: prev.status.GetReason(), Message: prev.status.GetMessage(),
						StartedAt: prev.startedAt(), FinishedAt: prev.finishedAt()}
					break
				}
			}
		}
		out = append(out, cs)
	}
	return out
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

// imageWaiting shows a container whose image is not there as the kubelet
// does: waiting with ErrImagePull just after a failed pull,
// ImagePullBackOff until the retry, or ErrImageNeverPull, with the error.
func imageWaiting(cs []ContainerStatus, in statusInput) {
	var ie *imageError
	if !errors.As(in.syncErr, &ie) {
		return
	}
	for i := range cs {
		c := &cs[i]
		if c.Name != ie.container || c.State == "Running" || c.Reason == "CrashLoopBackOff" {
			continue
		}
		c.State, c.Reason, c.Message = "Waiting", ie.reason, ie.Error()
		if ie.reason == reasonErrImagePull && in.syncRetry.After(in.now) {
			c.Reason, c.BackoffUntil = reasonImagePullBackOff, in.syncRetry
			c.Message = fmt.Sprintf("Back-off %s pulling image %q: %v", in.syncRetry.Sub(in.now).Round(time.Second), ie.image, ie.err)
		}
	}
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
		sidecar := IsSidecar(&spec.InitContainers[i])
		switch {
		case sidecar && c.State == "Running", !sidecar && c.State == "Terminated" && c.ExitCode == 0:
			done++
		case !sidecar && c.State == "Terminated" && spec.RestartPolicy == corev1.RestartPolicyNever:
			return false, "", true
		}
	}
	return done == n, fmt.Sprintf("Init:%d/%d", done, n), false
}

// logTail is the end of a container log (at most 80 lines, 2048 bytes), the
// termination message of FallbackToLogsOnError.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	r := crilog.NewReader(f)
	var lines []string
	for {
		e, err := r.Next()
		if err != nil {
			break
		}
		lines = append(lines, string(e.Content))
		if len(lines) > 80 {
			lines = lines[1:]
		}
	}
	out := strings.Join(lines, "\n")
	if len(out) > 2048 {
		out = out[len(out)-2048:]
	}
	return out
}
