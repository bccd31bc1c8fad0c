package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	stdsync "sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// sink writes events through the typed core/v1 client, each call with its
// own deadline, and logs a failure once per change of its kind and the
// first success after failures. It returns the client's errors unwrapped:
// the broadcaster retries or drops by their type.
type sink struct {
	ctx    context.Context
	events typedcorev1.EventInterface
	node   string
	log    *slog.Logger

	mu   stdsync.Mutex
	last string // the kind of the last failure, "" after a success
}

var _ record.EventSink = (*sink)(nil)

// newSink returns a sink writing to client whose calls end with ctx.
func newSink(ctx context.Context, client kubernetes.Interface, node string, log *slog.Logger) *sink {
	return &sink{ctx: ctx, events: client.CoreV1().Events(""), node: node, log: log}
}

// Create creates event in its namespace.
func (s *sink) Create(event *corev1.Event) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	out, err := s.events.CreateWithEventNamespaceWithContext(ctx, event)
	s.report(event, err)
	return out, err
}

// Update updates event in its namespace.
func (s *sink) Update(event *corev1.Event) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	out, err := s.events.UpdateWithEventNamespaceWithContext(ctx, event)
	s.report(event, err)
	return out, err
}

// Patch patches event in its namespace; a missing event is not a failure
// (the broadcaster creates it anew).
func (s *sink) Patch(event *corev1.Event, data []byte) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	out, err := s.events.PatchWithEventNamespaceWithContext(ctx, event, data)
	if !apierrors.IsNotFound(err) {
		s.report(event, err)
	}
	return out, err
}

// report logs err once per change of its kind, and the first success after
// a failure.
func (s *sink) report(event *corev1.Event, err error) {
	kind := failureKind(err)
	s.mu.Lock()
	changed := kind != s.last
	s.last = kind
	s.mu.Unlock()
	switch {
	case !changed || errors.Is(err, context.Canceled):
	case err == nil:
		s.log.Info("events posted again", "node", s.node)
	default:
		s.log.Warn("events not posted: the API server rejects them or is unreachable; client-go retries a few times, then drops them",
			"node", s.node, "object", event.InvolvedObject.Kind+" "+event.InvolvedObject.Namespace+"/"+event.InvolvedObject.Name,
			"reason", event.Reason, "err", fmt.Sprintf("%.512q", err.Error()))
	}
}

// failureKind names the kind of err for logging once per change: "" for
// none, the API's reason for a status error, else "unreachable".
func failureKind(err error) string {
	if err == nil {
		return ""
	}
	if r := apierrors.ReasonForError(err); r != "" {
		return string(r)
	}
	return "unreachable"
}
