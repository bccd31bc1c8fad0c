package events

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/imagegc"
	"github.com/bosun-sh/bosun/prober"
	"github.com/bosun-sh/bosun/rollout"
	"github.com/bosun-sh/bosun/sync"
)

// The reasons bosun posts. Those the kubelet also posts (Started, Killing,
// SandboxChanged, Unhealthy, ProbeWarning, FailedPostStartHook,
// FreeDiskSpaceFailed, ImageGCFailed) mean what they mean for the kubelet.
const (
	ReasonCreated             = "Created"
	ReasonStarted             = "Started"
	ReasonKilling             = "Killing"
	ReasonFailed              = "Failed"
	ReasonUnhealthy           = "Unhealthy"
	ReasonProbeWarning        = "ProbeWarning"
	ReasonFailedPostStartHook = "FailedPostStartHook"
	ReasonSandboxChanged      = "SandboxChanged"
	ReasonCompleted           = "Completed"
)

// Component is the source component of every event bosun posts; the source
// host is the node's name.
const Component = "bosun"

// MaxMessage is the most bytes of an event's message: the limit the API
// puts on an events.k8s.io note (core/v1 Events written without eventTime
// have none, so bosun keeps the same bound).
const MaxMessage = 1024

// maxReason is the most bytes of a reason (the API's limit).
const maxReason = 128

// scope says which object an event is about.
type scope int

const (
	onPod scope = iota
	onNode
)

// posting is one Kubernetes Event to post for a bosun event.
type posting struct {
	scope   scope
	typ     string
	reason  string
	message string
}

// The event types recorded outside package sync that are not exported where
// they are defined (cmd/bosun's image preload).
const (
	eventImagesPreloaded    sync.EventType = "ImagesPreloaded"
	eventImagePreloadFailed sync.EventType = "ImagePreloadFailed"
)

// postings maps a bosun event to the Kubernetes Events that tell it, with
// bounded, valid UTF-8 messages; a clean container exit maps to none.
func postings(e sync.Event) []posting {
	out := postingsOf(e)
	for i := range out {
		out[i].reason = prober.Truncate(strings.ToValidUTF8(out[i].reason, ""), maxReason)
		out[i].message = Message(out[i].message)
	}
	return out
}

// postingsOf is postings before bounding.
func postingsOf(e sync.Event) []posting {
	c, m := e.Container, e.Message
	switch e.Type {
	case sync.EventPodCreated:
		return pod(corev1.EventTypeNormal, ReasonCreated, join("Created pod sandbox", m))
	case sync.EventSandboxDied:
		return pod(corev1.EventTypeNormal, ReasonSandboxChanged, join("Pod sandbox died", m))
	case sync.EventPodCompleted:
		return pod(corev1.EventTypeNormal, ReasonCompleted, m)
	case sync.EventPodRemoved:
		return pod(corev1.EventTypeNormal, ReasonKilling, join("Stopping pod (manifest removed or pod replaced)", m))
	case sync.EventPodReplaced:
		return pod(corev1.EventTypeNormal, ReasonKilling, join("Replacing pod", m))
	case sync.EventContainerStarted:
		return pod(corev1.EventTypeNormal, ReasonStarted, join("Started container "+c, m))
	case sync.EventContainerRestarted:
		return pod(corev1.EventTypeNormal, ReasonStarted, join("Restarted container "+c, m))
	case sync.EventContainerExited:
		if !failedExit(m) {
			return nil
		}
		return pod(corev1.EventTypeWarning, ReasonFailed, join("Container "+c+" exited", m))
	case sync.EventContainerKilled:
		return killed(c, m)
	case sync.EventProbeWarning:
		return pod(corev1.EventTypeWarning, ReasonProbeWarning, join("Container "+c, m))
	case sync.EventSyncFailed:
		return pod(corev1.EventTypeWarning, ReasonFailed, m)
	case rollout.EventRolledBack, rollout.EventRolloutFailed:
		return pod(corev1.EventTypeWarning, string(e.Type), m)
	case rollout.EventRolloutComplete:
		return pod(corev1.EventTypeNormal, string(e.Type), m)
	case sync.EventManifestRejected, sync.EventManifestConflict, sync.EventManifestsUnreadable,
		eventImagePreloadFailed:
		return node(corev1.EventTypeWarning, string(e.Type), withFile(e.File, m))
	case sync.EventRuntimeUnavailable:
		return node(corev1.EventTypeWarning, string(e.Type), join("Container runtime unavailable", m))
	case sync.EventRuntimeAvailable:
		return node(corev1.EventTypeNormal, string(e.Type), "Container runtime available")
	case sync.EventType(imagegc.EventFreeDiskSpaceFailed), sync.EventType(imagegc.EventImageGCFailed):
		return node(corev1.EventTypeWarning, string(e.Type), m)
	case sync.EventType(imagegc.EventImageRemoved), eventImagesPreloaded:
		return node(corev1.EventTypeNormal, string(e.Type), withFile(e.File, m))
	}
	if e.Pod == "" {
		return node(corev1.EventTypeNormal, string(e.Type), withFile(e.File, m))
	}
	return pod(corev1.EventTypeNormal, string(e.Type), join(c, m))
}

// killed maps a ContainerKilled: a probe's kill is an Unhealthy warning then
// Killing, as the kubelet tells it; a failed postStart hook is a warning; a
// pod-wide kill (its active deadline) is Killing on the pod.
func killed(c, m string) []posting {
	if c == "" {
		return pod(corev1.EventTypeNormal, ReasonKilling, join("Stopping pod", m))
	}
	if strings.HasPrefix(m, "postStart hook failed") {
		return pod(corev1.EventTypeWarning, ReasonFailedPostStartHook, join("Stopping container "+c, m))
	}
	stop := posting{scope: onPod, typ: corev1.EventTypeNormal, reason: ReasonKilling, message: join("Stopping container "+c, m)}
	if kind, _, ok := strings.Cut(m, " probe failed"); ok && (kind == prober.Liveness.String() || kind == prober.Startup.String()) {
		stop.message = fmt.Sprintf("Stopping container %s: it failed its %s probe", c, kind)
		return []posting{{scope: onPod, typ: corev1.EventTypeWarning, reason: ReasonUnhealthy, message: capitalize(m)}, stop}
	}
	return []posting{stop}
}

// failedExit reports whether a ContainerExited message ("exit code N[,
// reason]") tells of a failure; a message it cannot read counts as one.
func failedExit(m string) bool {
	var code int
	if _, err := fmt.Sscanf(m, "exit code %d", &code); err != nil {
		return true
	}
	return code != 0
}

// pod is one posting on the pod's mirror pod.
func pod(typ, reason, message string) []posting {
	return []posting{{scope: onPod, typ: typ, reason: reason, message: message}}
}

// node is one posting on the Node.
func node(typ, reason, message string) []posting {
	return []posting{{scope: onNode, typ: typ, reason: reason, message: message}}
}

// join is "head: tail", or whichever of the two is not empty.
func join(head, tail string) string {
	switch {
	case tail == "":
		return head
	case head == "":
		return tail
	}
	return head + ": " + tail
}

// withFile is m prefixed with the file it is about unless m names it already.
func withFile(file, m string) string {
	if file == "" || strings.Contains(m, filepath.Base(file)) {
		return m
	}
	return join(file, m)
}

// capitalize is s with its first letter in upper case.
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// Message is s as an event's message: invalid UTF-8 replaced, control
// characters (newlines included) escaped, and cut on a character boundary
// to at most MaxMessage bytes, an ellipsis marking the cut.
func Message(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		if b.Len() > MaxMessage {
			break
		}
		if unicode.IsControl(r) {
			q := fmt.Sprintf("%+q", r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return prober.Truncate(b.String(), MaxMessage)
}
