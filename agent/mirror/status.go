package mirror

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-sh/bosun/runtime"
	"github.com/bosun-sh/bosun/sync"
)

// The reasons and messages of the kubelet's pod conditions.
const (
	reasonContainersNotReady       = "ContainersNotReady"
	reasonContainersNotInitialized = "ContainersNotInitialized"
	reasonPodCompleted             = "PodCompleted"
	reasonPodFailed                = "PodFailed"
	reasonSandboxNotReady          = "PodSandboxNotReady"
	reasonContainerCreating        = "ContainerCreating"
	msgNoSandbox                   = "no pod sandbox exists"
	msgSandboxNotReady             = "pod sandbox is not ready"
	// maxTerminationMessages is the kubelet's budget of termination message
	// bytes per pod, shared by its containers.
	maxTerminationMessages = 12 << 10
	containerIDPrefix      = "containerd://"
)

// statusInput is what the status of one mirror pod is computed from.
type statusInput struct {
	// pod is the mirror pod (spec and generation); its status is the base.
	pod *corev1.Pod
	// base is the status last written or read, for transition times and
	// what bosun does not own.
	base corev1.PodStatus
	// ps is the status the loop publishes for the pod, nil when none.
	ps *sync.PodStatus
	// hash is the spec hash of the mirror pod's version.
	hash   string
	nodeIP string
	now    time.Time
}

// current reports whether the loop's status is of the mirror pod's version:
// during a replacement it shows the old pod, which must not be posted.
func (in *statusInput) current() bool {
	return in.ps != nil && in.ps.Hash == in.hash && (in.ps.RunningHash == in.hash || in.ps.RunningHash == "")
}

// podStatus is the mirror pod's status as the kubelet's generateAPIPodStatus
// would make it, normalized as its status manager writes it.
func podStatus(in statusInput) corev1.PodStatus {
	spec := &in.pod.Spec
	st := *in.base.DeepCopy()
	ps := in.ps
	if !in.current() {
		ps = pendingStatus(spec)
	}
	st.Phase = phase(ps.Phase)
	st.Reason, st.Message = "", ""
	if st.Phase == corev1.PodFailed && ps.Reason == "DeadlineExceeded" {
		st.Reason, st.Message = "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
	}
	nodeIPs := splitIPs(in.nodeIP)
	st.HostIP, st.HostIPs = "", nil
	for _, ip := range nodeIPs {
		st.HostIPs = append(st.HostIPs, corev1.HostIP{IP: ip})
	}
	if len(nodeIPs) > 0 {
		st.HostIP = nodeIPs[0]
	}
	podIPs := []string{ps.IP}
	if spec.HostNetwork {
		podIPs = nodeIPs
	}
	st.PodIP, st.PodIPs = "", nil
	for _, ip := range podIPs {
		if ip != "" {
			st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
		}
	}
	if len(st.PodIPs) > 0 {
		st.PodIP = st.PodIPs[0].IP
	}
	st.StartTime = nil
	if !ps.Created.IsZero() {
		t := metav1.NewTime(ps.Created)
		st.StartTime = &t
	}
	if st.QOSClass == "" {
		st.QOSClass = runtime.QOSClass(in.pod) // the class bosun runs the pod with
	}
	st.ObservedGeneration = in.pod.Generation
	budget := maxTerminationMessages / max(1, len(spec.InitContainers)+len(spec.Containers))
	st.InitContainerStatuses, st.ContainerStatuses = containerStatuses(ps, spec, budget, &in.base)
	st.Conditions = conditions(in, ps, &st)
	return normalize(st)
}

// pendingStatus is the loop's status of a pod that does not run yet.
func pendingStatus(spec *corev1.PodSpec) *sync.PodStatus {
	ps := &sync.PodStatus{Phase: string(corev1.PodPending), Reason: reasonContainerCreating}
	for _, c := range spec.InitContainers {
		ps.Containers = append(ps.Containers, sync.ContainerStatus{Name: c.Name, Image: c.Image, State: "Waiting", Reason: reasonContainerCreating, Init: true})
	}
	for _, c := range spec.Containers {
		ps.Containers = append(ps.Containers, sync.ContainerStatus{Name: c.Name, Image: c.Image, State: "Waiting", Reason: reasonContainerCreating})
	}
	return ps
}

// phase is the API phase of the loop's phase (Pending for anything else).
func phase(p string) corev1.PodPhase {
	switch ph := corev1.PodPhase(p); ph {
	case corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed:
		return ph
	}
	return corev1.PodPending
}

// splitIPs is the node's IPs from a kubelet-style --node-ip value: one IP,
// or two separated by a comma (dual stack).
func splitIPs(s string) []string {
	var out []string
	for _, ip := range strings.Split(s, ",") {
		if ip = strings.TrimSpace(ip); ip != "" {
			out = append(out, ip)
		}
	}
	return out
}

// containerStatuses are the init containers' statuses in spec order and the
// app containers' sorted by name, as the kubelet orders them.
func containerStatuses(ps *sync.PodStatus, spec *corev1.PodSpec, budget int, base *corev1.PodStatus) ([]corev1.ContainerStatus, []corev1.ContainerStatus) {
	byName := map[string]*sync.ContainerStatus{}
	for i := range ps.Containers {
		byName[ps.Containers[i].Name] = &ps.Containers[i]
	}
	var initial, app []corev1.ContainerStatus
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		initial = append(initial, keepUnknown(containerStatus(byName[c.Name], c, true, budget), byName[c.Name], c, base.InitContainerStatuses))
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		app = append(app, keepUnknown(containerStatus(byName[c.Name], c, false, budget), byName[c.Name], c, base.ContainerStatuses))
	}
	sort.SliceStable(app, func(i, j int) bool { return app[i].Name < app[j].Name })
	return initial, app
}

// containerStatus is the API status of container c (nil: not seen yet) of
// spec.
func containerStatus(c *sync.ContainerStatus, spec *corev1.Container, init bool, budget int) corev1.ContainerStatus {
	if c == nil {
		c = &sync.ContainerStatus{Name: spec.Name, State: "Waiting", Reason: reasonContainerCreating}
	}
	out := corev1.ContainerStatus{Name: spec.Name, Image: c.Image, RestartCount: int32(min(c.RestartCount, 1<<31-1))}
	if out.Image == "" {
		out.Image = spec.Image
	}
	if c.ID != "" {
		out.ContainerID = containerIDPrefix + c.ID
	}
	switch c.State {
	case "Running":
		out.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.StartedAt)}
	case "Terminated":
		out.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: c.ExitCode, Reason: c.Reason, Message: truncate(c.Message, budget),
			StartedAt: metav1.NewTime(c.StartedAt), FinishedAt: metav1.NewTime(c.FinishedAt), ContainerID: out.ContainerID}
	default:
		reason := c.Reason
		if reason == "" {
			reason = reasonContainerCreating
		}
		out.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: c.Message}
	}
	if t := c.LastTermination; t != nil {
		out.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: t.ExitCode, Reason: t.Reason, Message: truncate(t.Message, budget),
			StartedAt: metav1.NewTime(t.StartedAt), FinishedAt: metav1.NewTime(t.FinishedAt)}
	}
	started := c.State == "Running" && startupPassed(c, spec)
	out.Started = &started
	out.Ready = c.Ready && c.State == "Running"
	if init && !isSidecar(spec) {
		out.Ready = c.State == "Terminated" && c.ExitCode == 0
	}
	return out
}

// keepUnknown keeps what the mirror pod already says of a running
// container's started and ready when bosun has no probe result for it yet:
// a restarted bosun probes the containers it adopts again, and until their
// first startup and readiness probes, "not known yet" must not post them as
// not started and not ready (kill -9 of bosun changes no mirror pod).
func keepUnknown(out corev1.ContainerStatus, c *sync.ContainerStatus, spec *corev1.Container, prev []corev1.ContainerStatus) corev1.ContainerStatus {
	if c == nil || c.State != "Running" || out.ContainerID == "" {
		return out
	}
	var was *corev1.ContainerStatus
	for i := range prev {
		if prev[i].Name == out.Name && prev[i].ContainerID == out.ContainerID {
			was = &prev[i]
		}
	}
	if was == nil {
		return out
	}
	if spec.StartupProbe != nil && !probed(c, "startup") && was.Started != nil {
		started := *was.Started
		out.Started = &started
		if !started {
			return out
		}
	}
	if (spec.ReadinessProbe != nil && !probed(c, "readiness")) || (spec.StartupProbe != nil && !probed(c, "startup")) {
		out.Ready = was.Ready
	}
	return out
}

// probed reports whether bosun has a result of container c's probe of kind.
func probed(c *sync.ContainerStatus, kind string) bool {
	for _, p := range c.Probes {
		if p.Kind == kind && !p.Last.IsZero() {
			return true
		}
	}
	return false
}

// startupPassed reports whether container c has no startup probe or it
// succeeded.
func startupPassed(c *sync.ContainerStatus, spec *corev1.Container) bool {
	if spec.StartupProbe == nil {
		return true
	}
	for _, p := range c.Probes {
		if p.Kind == "startup" {
			return p.Success
		}
	}
	return false
}

// isSidecar reports whether init container c is a sidecar (restartPolicy
// Always).
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// truncate keeps the first n bytes of s.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// conditions are the kubelet's pod conditions of st, in its order, keeping
// the conditions bosun does not own (a DisruptionTarget, a readiness gate's).
func conditions(in statusInput, ps *sync.PodStatus, st *corev1.PodStatus) []corev1.PodCondition {
	spec := &in.pod.Spec
	var out []corev1.PodCondition
	for _, c := range in.base.Conditions {
		if !owned(c.Type) {
			out = append(out, c)
		}
	}
	sandbox := condition(corev1.PodReadyToStartContainers, true, "", "")
	switch {
	case !in.current() || ps.SandboxID == "":
		sandbox = condition(corev1.PodReadyToStartContainers, false, reasonSandboxNotReady, msgNoSandbox)
	case ps.SandboxDead:
		sandbox = condition(corev1.PodReadyToStartContainers, false, reasonSandboxNotReady, msgSandboxNotReady)
	}
	all := append(append([]corev1.ContainerStatus(nil), st.InitContainerStatuses...), st.ContainerStatuses...)
	ready := containersReady(spec, all, st.Phase)
	podReady := ready
	podReady.Type = corev1.PodReady
	if podReady.Status == corev1.ConditionTrue {
		podReady = readinessGates(spec, out)
	}
	out = append(out, sandbox, initialized(spec, all, st.Phase), podReady, ready, condition(corev1.PodScheduled, true, "", ""))
	for i := range out {
		if owned(out[i].Type) {
			out[i].ObservedGeneration = in.pod.Generation
			out[i].LastTransitionTime = transitionTime(in.base.Conditions, out[i], in.now)
		}
	}
	return out
}

// owned reports whether the kubelet (and so bosun) writes condition t.
func owned(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled:
		return true
	}
	return false
}

// condition is a pod condition of type t.
func condition(t corev1.PodConditionType, ok bool, reason, message string) corev1.PodCondition {
	s := corev1.ConditionFalse
	if ok {
		s = corev1.ConditionTrue
	}
	return corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: message}
}

// transitionTime keeps the old condition's transition time while its status
// stays, as the kubelet's status manager does.
func transitionTime(old []corev1.PodCondition, c corev1.PodCondition, now time.Time) metav1.Time {
	for _, o := range old {
		if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
			return o.LastTransitionTime
		}
	}
	return metav1.NewTime(now)
}

// containersReady is the ContainersReady condition: every app container and
// sidecar ready.
func containersReady(spec *corev1.PodSpec, all []corev1.ContainerStatus, ph corev1.PodPhase) corev1.PodCondition {
	switch ph {
	case corev1.PodSucceeded:
		return condition(corev1.ContainersReady, false, reasonPodCompleted, "")
	case corev1.PodFailed:
		return condition(corev1.ContainersReady, false, reasonPodFailed, "")
	}
	var unready []string
	for i := range spec.InitContainers {
		if c := find(all, spec.InitContainers[i].Name); isSidecar(&spec.InitContainers[i]) && (c == nil || !c.Ready) {
			unready = append(unready, spec.InitContainers[i].Name)
		}
	}
	for _, sc := range spec.Containers {
		if c := find(all, sc.Name); c == nil || !c.Ready {
			unready = append(unready, sc.Name)
		}
	}
	if len(unready) > 0 {
		return condition(corev1.ContainersReady, false, reasonContainersNotReady, fmt.Sprintf("containers with unready status: %v", unready))
	}
	return condition(corev1.ContainersReady, true, "", "")
}

// readinessGates is the Ready condition of a pod whose containers are ready.
func readinessGates(spec *corev1.PodSpec, conds []corev1.PodCondition) corev1.PodCondition {
	var msgs []string
	for _, g := range spec.ReadinessGates {
		found := false
		for _, c := range conds {
			if c.Type != g.ConditionType {
				continue
			}
			found = true
			if c.Status != corev1.ConditionTrue {
				msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(g.ConditionType), c.Status))
			}
		}
		if !found {
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(g.ConditionType)))
		}
	}
	if len(msgs) > 0 {
		msg := msgs[0]
		for _, m := range msgs[1:] {
			msg += ", " + m
		}
		return condition(corev1.PodReady, false, "ReadinessGatesNotReady", msg)
	}
	return condition(corev1.PodReady, true, "", "")
}

// initialized is the Initialized condition: every init container done (a
// sidecar started), or an app container started once.
func initialized(spec *corev1.PodSpec, all []corev1.ContainerStatus, ph corev1.PodPhase) corev1.PodCondition {
	if ph == corev1.PodSucceeded {
		return condition(corev1.PodInitialized, true, reasonPodCompleted, "")
	}
	for _, sc := range spec.Containers {
		if c := find(all, sc.Name); c != nil && (c.State.Running != nil || c.State.Terminated != nil || c.LastTerminationState.Terminated != nil) {
			return condition(corev1.PodInitialized, true, "", "")
		}
	}
	var incomplete []string
	for i := range spec.InitContainers {
		ic := &spec.InitContainers[i]
		c := find(all, ic.Name)
		done := c != nil && c.Ready
		if isSidecar(ic) {
			done = c != nil && c.Started != nil && *c.Started
		}
		if !done {
			incomplete = append(incomplete, ic.Name)
		}
	}
	if len(incomplete) > 0 {
		return condition(corev1.PodInitialized, false, reasonContainersNotInitialized, fmt.Sprintf("containers with incomplete status: %v", incomplete))
	}
	return condition(corev1.PodInitialized, true, "", "")
}

// find is the status of the container named name in cs, nil if none.
func find(cs []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// normalize truncates st's times to the API's precision (seconds) and makes
// empty lists nil, so that a status read back compares equal.
func normalize(st corev1.PodStatus) corev1.PodStatus {
	sec := func(t *metav1.Time) { *t = t.Rfc3339Copy() }
	if st.StartTime != nil {
		sec(st.StartTime)
	}
	for i := range st.Conditions {
		sec(&st.Conditions[i].LastProbeTime)
		sec(&st.Conditions[i].LastTransitionTime)
	}
	state := func(s *corev1.ContainerState) {
		if s.Running != nil {
			sec(&s.Running.StartedAt)
		}
		if s.Terminated != nil {
			sec(&s.Terminated.StartedAt)
			sec(&s.Terminated.FinishedAt)
		}
	}
	for _, list := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses, st.EphemeralContainerStatuses} {
		for i := range list {
			state(&list[i].State)
			state(&list[i].LastTerminationState)
		}
	}
	if len(st.Conditions) == 0 {
		st.Conditions = nil
	}
	if len(st.InitContainerStatuses) == 0 {
		st.InitContainerStatuses = nil
	}
	if len(st.ContainerStatuses) == 0 {
		st.ContainerStatuses = nil
	}
	if len(st.HostIPs) == 0 {
		st.HostIPs = nil
	}
	if len(st.PodIPs) == 0 {
		st.PodIPs = nil
	}
	return st
}

// statusEqual reports whether two statuses say the same to the API.
func statusEqual(a, b corev1.PodStatus) bool {
	return apiequality.Semantic.DeepEqual(normalize(*a.DeepCopy()), normalize(*b.DeepCopy()))
}
