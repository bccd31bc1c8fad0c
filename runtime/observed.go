package runtime

import (
	"encoding/json"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Sandbox is a pod sandbox as the loop sees it: what bosun recorded on it,
// decoded once here, so that no other package reads a label or annotation.
type Sandbox struct {
	ID        string
	Namespace string
	Name      string
	UID       string
	Attempt   uint32
	Ready     bool
	Created   time.Time
	// Hash is the spec hash of the version it runs (kubernetes.io/config.hash).
	Hash string
	// Manifest is the file it was made from.
	Manifest string
	// Spec is the running version's Pod spec as compact JSON, "" for a
	// sandbox made by an older bosun; it is carried, not decoded.
	Spec string
	// Managed is set on sandboxes bosun made.
	Managed bool
	// KubeletStatic is set on a kubelet's static pod sandbox made from a
	// file (config.source=file, not managed), whose pod labels match its
	// metadata: what Config.TakeOver may replace.
	KubeletStatic bool
}

// Key is the sandbox's pod key, "namespace/name".
func (s *Sandbox) Key() string { return s.Namespace + "/" + s.Name }

// SandboxOf decodes a listed sandbox.
func SandboxOf(sb *runtimeapi.PodSandbox) Sandbox {
	m, labels, ann := sb.GetMetadata(), sb.GetLabels(), sb.GetAnnotations()
	managed := labels[LabelManaged] == "true"
	return Sandbox{
		ID: sb.GetId(), Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUid(), Attempt: m.GetAttempt(),
		Ready:   sb.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY,
		Created: time.Unix(0, sb.GetCreatedAt()),
		Hash:    ann[AnnotationConfigHash], Manifest: ann[AnnotationManifest], Spec: ann[AnnotationSpec],
		Managed: managed,
		KubeletStatic: !managed && ann[AnnotationConfigSource] == "file" &&
			labels[LabelPodName] == m.GetName() && labels[LabelPodNamespace] == m.GetNamespace(),
	}
}

// Kind says what a container is to its pod.
type Kind int

// The kinds of container. A container made by something else than bosun
// (a kubelet's, taken over) is an app container.
const (
	KindApp Kind = iota
	KindInit
	KindSidecar
)

func (k Kind) String() string {
	switch k {
	case KindInit:
		return "init"
	case KindSidecar:
		return "sidecar"
	}
	return "app"
}

// kindOf parses what Kind.String wrote.
func kindOf(s string) Kind {
	switch s {
	case "init":
		return KindInit
	case "sidecar":
		return KindSidecar
	}
	return KindApp
}

// ContainerState is a container's CRI state.
type ContainerState = runtimeapi.ContainerState

// The container states.
const (
	ContainerCreated = runtimeapi.ContainerState_CONTAINER_CREATED
	ContainerRunning = runtimeapi.ContainerState_CONTAINER_RUNNING
	ContainerExited  = runtimeapi.ContainerState_CONTAINER_EXITED
	ContainerUnknown = runtimeapi.ContainerState_CONTAINER_UNKNOWN
)

// Container is a container as the loop sees it, with what bosun recorded
// on it decoded: enough to stop it right after its manifest is gone.
type Container struct {
	ID        string
	SandboxID string
	Name      string
	Image     string
	State     ContainerState
	Created   time.Time
	// RestartCount is the kubelet's restart count (its attempt when bosun
	// did not record one).
	RestartCount uint32
	Kind         Kind
	// Grace is the pod's terminationGracePeriodSeconds when the container
	// was made (30 when not recorded).
	Grace int64
	// PreStop is the container's preStop hook, nil if none.
	PreStop *corev1.LifecycleHandler
	// Ports are the container's ports, by which a preStop hook may name
	// its port (nil when not recorded, as by a bosun before 9264c8c).
	Ports   []corev1.ContainerPort
	Managed bool
}

// Exited reports whether the container is done (exited, or in a state the
// runtime cannot tell, which the kubelet treats alike).
func (c *Container) Exited() bool { return c.State == ContainerExited || c.State == ContainerUnknown }

// ContainerOf decodes a listed container. A preStop hook that does not
// decode is dropped: the container is then stopped without it.
func ContainerOf(c *runtimeapi.Container) Container {
	ann := c.GetAnnotations()
	out := Container{
		ID: c.GetId(), SandboxID: c.GetPodSandboxId(), Name: c.GetMetadata().GetName(), Image: imageOf(c.GetImage()),
		State: c.GetState(), Created: time.Unix(0, c.GetCreatedAt()),
		RestartCount: RestartCountOf(ann, c.GetMetadata().GetAttempt()),
		Kind:         kindOf(ann[AnnotationContainerKind]),
		Grace:        GracePeriodOf(ann),
		Managed:      c.GetLabels()[LabelManaged] == "true",
	}
	if raw := ann[AnnotationPreStopHandler]; raw != "" {
		var h corev1.LifecycleHandler
		if err := json.Unmarshal([]byte(raw), &h); err == nil {
			out.PreStop = &h
		}
	}
	if raw := ann[AnnotationContainerPorts]; raw != "" {
		var ports []corev1.ContainerPort
		if err := json.Unmarshal([]byte(raw), &ports); err == nil {
			out.Ports = ports
		}
	}
	return out
}

// imageOf is the image a container was made from as its manifest names it:
// UserSpecifiedImage when the runtime kept it, else the image sent.
func imageOf(spec *runtimeapi.ImageSpec) string {
	if u := spec.GetUserSpecifiedImage(); u != "" {
		return u
	}
	return spec.GetImage()
}

// Exit is how a container instance ended, from its ContainerStatus.
type Exit struct {
	Code     int32
	Reason   string
	Message  string
	Started  time.Time // zero when it never started
	Finished time.Time
}

// ExitOf decodes the end of an exited container; nil gives the zero Exit.
func ExitOf(st *runtimeapi.ContainerStatus) Exit {
	e := Exit{Code: st.GetExitCode(), Reason: st.GetReason(), Message: st.GetMessage(), Finished: time.Unix(0, st.GetFinishedAt())}
	if st.GetStartedAt() != 0 {
		e.Started = time.Unix(0, st.GetStartedAt())
	}
	return e
}

// PodSelector selects the sandboxes and containers of one pod by the
// kubelet's pod labels, whoever made them.
func PodSelector(namespace, name string) map[string]string {
	return map[string]string{LabelPodName: name, LabelPodNamespace: namespace}
}
