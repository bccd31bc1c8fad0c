package runtime

// Labels and annotations that carry a pod's identity in the runtime. The
// io.kubernetes.* and kubernetes.io/* keys are the kubelet's, so crictl and
// log collectors show the same names as under a kubelet.
const (
	LabelManaged       = "bosun.dev/managed"
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"

	AnnotationConfigHash      = "kubernetes.io/config.hash"
	AnnotationConfigSource    = "kubernetes.io/config.source"
	AnnotationConfigSeen      = "kubernetes.io/config.seen"
	AnnotationManifest        = "bosun.dev/manifest"
	AnnotationRestartCount    = "io.kubernetes.container.restartCount"
	AnnotationTermMessagePath = "io.kubernetes.container.terminationMessagePath"
	AnnotationTermGracePeriod = "io.kubernetes.pod.terminationGracePeriod"
	AnnotationPreStopHandler  = "io.kubernetes.container.preStopHandler"
	// AnnotationContainerHash is the kubelet's HashContainer of the
	// container (ContainerHash); bosun records it for tools and never
	// compares it.
	AnnotationContainerHash     = "io.kubernetes.container.hash"
	AnnotationTermMessagePolicy = "io.kubernetes.container.terminationMessagePolicy"
	// AnnotationContainerPorts is the container's ports as JSON, written
	// only when it has some.
	AnnotationContainerPorts = "io.kubernetes.container.ports"
	// AnnotationContainerKind is init, sidecar or app.
	AnnotationContainerKind = "bosun.dev/container-kind"
)

// ManagedSelector selects what bosun owns; bosun never touches anything else.
func ManagedSelector() map[string]string {
	return map[string]string{LabelManaged: "true"}
}

// AnnotationSpec is the decoded, defaulted Pod spec (compact JSON) of the
// version a sandbox runs, for `bosun diff`; it is no hash input. Sandboxes
// made by bosun before it lack it.
const AnnotationSpec = "bosun.dev/spec"
