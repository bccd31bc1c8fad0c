package sync

import (
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/prober"
	"github.com/bosun-sh/bosun/runtime"
)

// MaxStatusMessage is the most bytes of a container status's message and
// of its last termination's message, as the kubelet keeps 4096 bytes of a
// termination message: the container controls them.
const MaxStatusMessage = 4 << 10

// observedContainers lists the containers of a sandbox in spec order (or by
// name without a spec), with their newest instance.
func observedContainers(sb *observedSandbox, in statusInput, spec []corev1.Container) []ContainerStatus {
	byName := map[string][]*observedContainer{}
	var names []string
	if sb != nil {
		for _, c := range sb.containers {
			if _, ok := byName[c.Name]; !ok && spec == nil {
				names = append(names, c.Name)
			}
			byName[c.Name] = append(byName[c.Name], c)
		}
	}
	if spec != nil {
		for _, c := range spec {
			names = append(names, c.Name)
		}
	} else {
		sort.Strings(names)
	}
	out := make([]ContainerStatus, 0, len(names))
	for i, name := range names {
		cs := ContainerStatus{Name: name, State: "Waiting", Reason: "ContainerCreating"}
		if spec != nil {
			cs.Image = spec[i].Image
		}
		if instances := byName[name]; len(instances) > 0 {
			containerStatus(&cs, sb, instances, in)
		}
		out = append(out, cs)
	}
	return out
}

// containerStatus fills the status of a container from its instances in
// sb, newest first.
func containerStatus(cs *ContainerStatus, sb *observedSandbox, instances []*observedContainer, in statusInput) {
	latest := instances[0]
	cs.ID, cs.RestartCount, cs.Image = latest.ID, latest.RestartCount, latest.Image
	cs.LogPath = in.logs.ContainerLog(podRefOf(sb), cs.Name, latest.RestartCount)
	switch latest.State {
	case runtime.ContainerRunning:
		cs.State, cs.Reason = "Running", ""
		cs.StartedAt = latest.Created
		cs.Ready, cs.Probes = latest.probe.ready, probeResults(latest.probe.results)
	case runtime.ContainerCreated:
		cs.State, cs.Reason = "Waiting", "ContainerCreating"
	default:
		terminated(cs, latest, in)
	}
	if cs.LastTermination == nil {
		for _, prev := range instances[1:] {
			if prev.Exited() {
				cs.LastTermination = termination(prev, prev.end().Reason, prev.end().Message)
				break
			}
		}
	}
}

// terminated fills the status of an exited container: its end, or
// CrashLoopBackOff while it waits for its restart.
func terminated(cs *ContainerStatus, latest *observedContainer, in statusInput) {
	e := latest.end()
	cs.State = "Terminated"
	cs.ExitCode, cs.Reason, cs.Message = e.Code, prober.Truncate(e.Reason, MaxStatusMessage), prober.Truncate(e.Message, MaxStatusMessage)
	if latest.exit != nil && latest.exit.message != "" {
		cs.Message = prober.Truncate(latest.exit.message, MaxStatusMessage)
	}
	cs.StartedAt, cs.FinishedAt = latest.startedAt(), latest.finishedAt()
	if cs.Reason == "" || cs.Reason == "Completed" || cs.Reason == "Error" {
		cs.Reason = "Completed"
		if cs.ExitCode != 0 {
			cs.Reason = "Error"
		}
	}
	if in.desired == nil || !shouldRestart(in.desired.Pod.Spec.RestartPolicy, cs.ExitCode) {
		return
	}
	d, ok := in.memo.delays[containerRef{in.desired.UID, cs.Name}]
	exited, ran := latest.exitedAt()
	if at, _ := in.backoff.readyAt(d, ok, ran, exited, latest.RestartCount); at.After(in.now) {
		cs.LastTermination = termination(latest, cs.Reason, cs.Message)
		cs.State, cs.Reason, cs.BackoffUntil = "Waiting", "CrashLoopBackOff", at
		cs.Message = "back-off " + at.Sub(in.now).Round(time.Second).String() + " restarting failed container"
	}
}

// termination describes how instance c ended.
func termination(c *observedContainer, reason, message string) *Termination {
	return &Termination{ExitCode: c.exitCode(), Reason: prober.Truncate(reason, MaxStatusMessage), Message: prober.Truncate(message, MaxStatusMessage),
		StartedAt: c.startedAt(), FinishedAt: c.finishedAt()}
}

// probeResults converts the prober's results for the API.
func probeResults(rs []prober.Result) []ProbeResult {
	var out []ProbeResult
	for _, r := range rs {
		out = append(out, ProbeResult{Kind: r.Kind.String(), Success: r.Success, Message: prober.Truncate(r.Message, prober.MaxMessage),
			ConsecutiveFailures: r.ConsecutiveFailures, Last: r.Last})
	}
	return out
}

// imageWaiting shows a container whose image is not there as the kubelet
// does: waiting with ErrImagePull just after a failed pull,
// ImagePullBackOff until the retry, or ErrImageNeverPull, with the error.
func imageWaiting(cs []ContainerStatus, in statusInput) {
	var ie *imageError
	if !errors.As(in.memo.syncErr, &ie) {
		return
	}
	retry := in.memo.retry
	for i := range cs {
		c := &cs[i]
		if c.Name != ie.container || c.State == "Running" || c.Reason == "CrashLoopBackOff" {
			continue
		}
		c.State, c.Reason, c.Message = "Waiting", ie.reason, prober.Truncate(ie.Error(), MaxStatusMessage)
		if ie.reason == reasonErrImagePull && retry.After(in.now) {
			c.Reason, c.BackoffUntil = reasonImagePullBackOff, retry
			c.Message = prober.Truncate(fmt.Sprintf("Back-off %s pulling image %q: %v", retry.Sub(in.now).Round(time.Second), ie.image, ie.err), MaxStatusMessage)
		}
	}
}
