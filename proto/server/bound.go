package server

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/bosun-sh/bosun/prober"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/sync"
)

// Bounds on the replies of the API: sync bounds the text that pods control
// where it keeps it (events, status and termination messages, probe
// results); the server cuts each text field again and keeps every reply
// under maxReply, so no pod can make the API fail for the others.
const (
	// maxReply is the most bytes of one reply, under the 4 MiB a gRPC client
	// accepts by default.
	maxReply = 3 << 20
	// maxField is the most bytes of one text field of a reply, as sync keeps
	// a container's status message.
	maxField = sync.MaxStatusMessage
	// squeezedField is what each text field of a reply that would exceed
	// maxReply is cut to.
	squeezedField = 256
)

// cutPod cuts every text field of p that a pod, a hook or a runtime error
// may fill to n bytes.
func cutPod(p *bosunv1.Pod, n int) {
	cut := func(s *string) { *s = text(*s, n) }
	cut(&p.Reason)
	cut(&p.SyncError)
	cut(&p.ManifestError)
	if r := p.GetRollout(); r != nil {
		cut(&r.Message)
	}
	for _, c := range p.GetContainers() {
		cut(&c.Reason)
		cut(&c.Message)
		if t := c.GetLastTermination(); t != nil {
			cut(&t.Reason)
			cut(&t.Message)
		}
		for _, pr := range c.GetProbes() {
			cut(&pr.Message)
		}
	}
}

// cutManifests cuts the errors and reasons of a ListPods reply to n bytes.
func cutManifests(out *bosunv1.ListPodsResponse, n int) {
	for _, e := range out.GetManifestErrors() {
		e.Error = text(e.Error, n)
	}
	for _, f := range out.GetIgnoredFiles() {
		f.Reason = text(f.Reason, n)
	}
}

// fitPods cuts the text of a ListPods reply to maxField bytes a field, and
// to squeezedField when the reply would still exceed maxReply; a reply too
// big even then (thousands of pods) is refused with ResourceExhausted
// rather than sent for the client to refuse.
func fitPods(out *bosunv1.ListPodsResponse) error {
	for _, n := range []int{maxField, squeezedField} {
		for _, p := range out.GetPods() {
			cutPod(p, n)
		}
		cutManifests(out, n)
		if proto.Size(out) <= maxReply {
			return nil
		}
	}
	return status.Errorf(codes.ResourceExhausted, "the list of %d pods takes %d bytes, more than the %d of a reply: ask for one pod (bosun inspect)", len(out.GetPods()), proto.Size(out), maxReply)
}

// fitPod is fitPods for one pod.
func fitPod(p *bosunv1.Pod) error {
	for _, n := range []int{maxField, squeezedField} {
		cutPod(p, n)
		if proto.Size(p) <= maxReply {
			return nil
		}
	}
	return status.Errorf(codes.ResourceExhausted, "pod %s/%s takes %d bytes, more than the %d of a reply", p.GetNamespace(), p.GetName(), proto.Size(p), maxReply)
}

// cutEvent cuts the text fields of an event, one message of the stream, to
// maxField bytes (sync keeps less; this holds whatever the history holds).
func cutEvent(e *bosunv1.Event) *bosunv1.Event {
	e.Pod, e.Container = text(e.Pod, maxField), text(e.Container, maxField)
	e.File, e.Message = text(e.File, maxField), text(e.Message, maxField)
	return e
}

// text is s as a reply may carry it: valid UTF-8 (protobuf refuses to send
// a string that is not, and a container may write any bytes into its
// termination message or a probe answer; each invalid byte becomes U+FFFD),
// cut to n bytes.
func text(s string, n int) string {
	return prober.Truncate(strings.ToValidUTF8(s, "\uFFFD"), n)
}
