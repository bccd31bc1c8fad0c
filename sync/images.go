package sync

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
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
	if err := l.cfg.pulls.acquire(ctx); err != nil {
		return nil, fmt.Errorf("image %s: waiting for a pull slot (maxParallelImagePulls %d): %w", c.Image, cap(l.cfg.pulls), err)
	}
	start := l.clk.Now()
	err := l.rt.PullImage(ctx, c.Image, sandboxCfg)
	l.cfg.pulls.release()
	if err != nil {
		return nil, &imageError{container: c.Name, image: c.Image, reason: reasonErrImagePull, err: err}
	}
	l.log.Info("image pulled", "image", c.Image, "duration", l.clk.Since(start))
	img, err := l.rt.ImageStatus(ctx, c.Image)
	if err != nil {
		return nil, err
	}
	if img == nil {
		return nil, fmt.Errorf("image %s: pulled but not present", c.Image)
	}
	return img, nil
}

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
