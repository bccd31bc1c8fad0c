package mirror

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// apply makes the call o, records its outcome and wakes the loop.
func (c *Controller) apply(ctx context.Context, o *op) {
	defer c.inflight.Done()
	callCtx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	var made *corev1.Pod
	var err error
	switch o.kind {
	case opCreate:
		made, err = c.create(callCtx, o.pod)
	case opDelete:
		err = c.remove(callCtx, o.pod)
	case opPatch:
		err = c.patchStatus(callCtx, o.pod, o.old, o.status)
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	c.finish(o, made, err) //nolint:contextcheck // finish only records the outcome, under the lock: no call to make
	c.poke()
}

// finish records the outcome of call o: what it wrote, or when to try
// again, logging an error once per change.
func (c *Controller) finish(o *op, made *corev1.Pod, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.record(o.key)
	r.busy = false
	now := c.cfg.Clock.Now()
	if err != nil {
		c.failed(o, r, err, now)
		return
	}
	if r.logged != "" {
		c.cfg.Log.Info("mirror pod calls succeed again", "pod", o.key)
	}
	r.backoff, r.retryAt, r.logged = newBackoff(), time.Time{}, ""
	switch o.kind {
	case opCreate:
		r.created, r.rejectedHash, r.problem = made, "", ""
		c.cfg.Log.Info("mirror pod created", "pod", o.key, "uid", string(made.UID), "hash", o.hash)
	case opDelete:
		r.deleted = o.pod.UID
		r.written, r.writtenUID = nil, ""
		c.cfg.Log.Info("mirror pod deleted", "pod", o.key, "uid", string(o.pod.UID))
	case opPatch:
		st := o.status
		r.written, r.writtenUID, r.patchedAt = &st, o.pod.UID, now
	}
}

// failed records error err of call o: an admission rejection waits
// RejectRetry (or a new manifest) and is logged once per version; any
// other error is retried with backoff and logged once per message.
func (c *Controller) failed(o *op, r *record, err error, now time.Time) {
	if errors.Is(err, context.Canceled) {
		return
	}
	msg := bounded(err.Error())
	if o.kind == opCreate && apierrors.IsAlreadyExists(err) {
		// A pod of that name is there, though a delete of it answered
		// that it is gone (an API server that had just started answered
		// so): the informer's pod is no longer taken as deleted, and the
		// next plan deletes it again.
		r.deleted = ""
	}
	if rejected(err) {
		r.retryAt = now.Add(RejectRetry)
		if r.rejectedHash != o.hash || r.problem == "" {
			c.cfg.Log.Warn("mirror pod refused by the API server", "pod", o.key, "hash", o.hash, "call", o.kind.String(), "err", msg)
		}
		r.rejectedHash, r.problem = o.hash, o.kind.String()+" refused: "+msg
		return
	}
	if expected(err) {
		r.retryAt = now.Add(c.cfg.Period) // the informer catches up; nothing to tell
		return
	}
	r.retryAt = now.Add(r.backoff.Step())
	if msg != r.logged {
		c.cfg.Log.Log(context.Background(), slog.LevelInfo, "mirror pod call failed, retrying", "pod", o.key, "call", o.kind.String(), "err", msg)
		r.logged = msg
	}
}

// rejected reports whether err is the API refusing the object itself
// (NodeRestriction's 403, validation's 422): retrying soon cannot help.
func rejected(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsInvalid(err)
}

// expected reports whether err only says that the informer is behind: the
// pod is gone, or was replaced.
func expected(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsConflict(err)
}

// bounded is s cut to maxLoggedError bytes and with control characters
// escaped: API errors quote objects and container messages.
func bounded(s string) string {
	if len(s) > maxLoggedError {
		s = s[:maxLoggedError] + "..."
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
