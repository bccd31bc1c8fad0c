package sync

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/credentials"
)

// Reasons of an image that is not there, as the kubelet shows them: a pull
// that failed, and an image missing under imagePullPolicy Never.
const (
	reasonErrImagePull      = "ErrImagePull"
	reasonErrImageNeverPull = "ErrImageNeverPull"
	// reasonImagePullBackOff is an ErrImagePull waiting for its retry.
	reasonImagePullBackOff = "ImagePullBackOff"
)

// imageError is a container's image that is not there: the pull failed
// (ErrImagePull) or is not allowed (ErrImageNeverPull). The pod's sync is
// retried with its backoff; the status shows the reason on the container.
type imageError struct {
	container, image, reason string
	err                      error
}

func (e *imageError) Error() string { return e.err.Error() }
func (e *imageError) Unwrap() error { return e.err }

// pullSlots bounds the image pulls in flight: a pull holds a slot; nil
// means no bound.
type pullSlots chan struct{}

// acquire takes a slot, waiting for one until ctx ends; a free slot is
// taken even when ctx has ended.
func (p pullSlots) acquire(ctx context.Context) error {
	if p == nil {
		return nil
	}
	select {
	case p <- struct{}{}:
		return nil
	default:
	}
	select {
	case p <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives back a slot taken by acquire.
func (p pullSlots) release() {
	if p != nil {
		<-p
	}
}

// ensureImage applies the container's imagePullPolicy and returns the image.
func (l *Loop) ensureImage(ctx context.Context, c *corev1.Container, sandboxCfg *runtimeapi.PodSandboxConfig) (*runtimeapi.Image, error) {
	if c.ImagePullPolicy != corev1.PullAlways {
		img, err := l.rt.ImageStatus(ctx, c.Image)
		if err != nil {
			return nil, err
		}
		if img != nil {
			return img, nil
		}
		if c.ImagePullPolicy == corev1.PullNever {
			return nil, &imageError{container: c.Name, image: c.Image, reason: reasonErrImageNeverPull,
				err: fmt.Errorf("image %s is not present and imagePullPolicy is Never", c.Image)}
		}
	}
	var creds []credentials.Credential
	if l.cfg.Credentials != nil {
		creds = l.cfg.Credentials.Lookup(ctx, c.Image)
	}
	if err := l.cfg.pulls.acquire(ctx); err != nil {
		return nil, fmt.Errorf("image %s: waiting for a pull slot (maxParallelImagePulls %d): %w", c.Image, cap(l.cfg.pulls), err)
	}
	start := l.clk.Now()
	used, err := l.pull(ctx, c.Image, creds, sandboxCfg)
	l.cfg.pulls.release()
	if err != nil {
		return nil, &imageError{container: c.Name, image: c.Image, reason: reasonErrImagePull, err: err}
	}
	if used != nil {
		l.log.Info("image pulled", "image", c.Image, "duration", l.clk.Since(start), "credential", *used)
	} else {
		l.log.Info("image pulled", "image", c.Image, "duration", l.clk.Since(start))
	}
	img, err := l.rt.ImageStatus(ctx, c.Image)
	if err != nil {
		return nil, err
	}
	if img == nil {
		return nil, fmt.Errorf("image %s: pulled but not present", c.Image)
	}
	return img, nil
}

// pull pulls image with each of creds in turn until one works, as the
// kubelet does, or anonymously when there are none. It returns the
// credential that worked (nil: anonymous), or every attempt's error, each
// naming its credential by source and key, never by its secrets.
func (l *Loop) pull(ctx context.Context, image string, creds []credentials.Credential, sandboxCfg *runtimeapi.PodSandboxConfig) (*credentials.Credential, error) {
	if len(creds) == 0 {
		return nil, l.rt.PullImage(ctx, image, nil, sandboxCfg)
	}
	var errs pullErrors
	for i := range creds {
		c := &creds[i]
		err := l.rt.PullImage(ctx, image, &runtimeapi.AuthConfig{Username: c.Username, Password: c.Password}, sandboxCfg)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("with the credentials of %s: %w", c, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errs
}

// pullErrors are the errors of a pull tried with several credentials.
type pullErrors []error

func (e pullErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e pullErrors) Unwrap() []error { return e }

// ImagesArrived tells the loop that images were just imported (by
// --image-preload-dir): every pod whose last sync failed for want of an
// image is retried at once, not at the end of its back-off, and the loop is
// woken. A pod whose image is still missing fails again and keeps backing
// off as before.
func (l *Loop) ImagesArrived() {
	l.mu.Lock()
	now := l.clk.Now()
	for _, s := range l.pods {
		var ie *imageError
		if errors.As(s.syncErr, &ie) && s.retry.After(now) {
			s.retry = now
		}
	}
	l.mu.Unlock()
	l.Wake()
}
