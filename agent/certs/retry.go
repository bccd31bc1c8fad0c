package certs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
)

// maxBackoff caps the wait between two tries of a call to an API server that is away.
const maxBackoff = 30 * time.Second

// transientError marks an error that asking again may cure.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// transient reports whether err may go away by itself: the API server unreachable, overloaded
// (429) or failing (5xx), or a wait that timed out. Answers that judge the request (401, 403, 404,
// 409, 422 ...), identity mismatches and denied CSRs are not.
func transient(err error) bool {
	if err == nil || isTerminal(err) {
		return false
	}
	var te *transientError
	if errors.As(err, &te) {
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		return code == 429 || code >= 500 || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err)
	}
	return !errors.Is(err, context.Canceled)
}

// retry calls fn until it succeeds, fails for good (not transient), or ctx ends, waiting with
// exponential backoff and jitter on cfg.Clock, and logging a failure once per change.
func retry(ctx context.Context, cfg Config, what string, fn func(context.Context) error) error {
	b := wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.2, Steps: math.MaxInt32, Cap: maxBackoff}
	var last string
	for {
		err := fn(ctx)
		if err == nil || !transient(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w (last error: %w)", what, ctx.Err(), err)
		}
		if msg := err.Error(); msg != last {
			cfg.Log.Warn("API server unavailable; retrying", "what", what, "node", cfg.NodeName, "err", err)
			last = msg
		}
		if serr := sleep(ctx, cfg, b.Step()); serr != nil {
			return fmt.Errorf("%s: %w (last error: %w)", what, serr, err)
		}
	}
}

// sleep waits d on cfg.Clock, or returns ctx's error when ctx ends first.
func sleep(ctx context.Context, cfg Config, d time.Duration) error {
	t := cfg.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}
