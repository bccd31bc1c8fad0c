package sync

import (
	"context"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/credentials"
	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
)

// Runtime is the part of the CRI that the loop uses.
type Runtime interface {
	RunPodSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig, handler string) (string, error)
	StopPodSandbox(ctx context.Context, id string) error
	RemovePodSandbox(ctx context.Context, id string) error
	ListPodSandbox(ctx context.Context, labels map[string]string) ([]*runtimeapi.PodSandbox, error)
	CreateContainer(ctx context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig, sandboxCfg *runtimeapi.PodSandboxConfig) (string, error)
	StartContainer(ctx context.Context, id string) error
	StopContainer(ctx context.Context, id string, grace int64) error
	ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (int32, []byte, error)
	RemoveContainer(ctx context.Context, id string) error
	ListContainers(ctx context.Context, labels map[string]string) ([]*runtimeapi.Container, error)
	ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error)
	PodSandboxStatus(ctx context.Context, id string) (*runtimeapi.PodSandboxStatus, error)
	ReopenContainerLog(ctx context.Context, id string) error
	// ImageStatus returns the image, nil when the runtime does not have it.
	ImageStatus(ctx context.Context, image string) (*runtimeapi.Image, error)
	// PullImage pulls image with auth's credentials (nil: anonymously).
	PullImage(ctx context.Context, image string, auth *runtimeapi.AuthConfig, sandboxCfg *runtimeapi.PodSandboxConfig) error
	// ContainerEvents opens the runtime's event stream; the returned function
	// blocks until the next event or an error.
	ContainerEvents(ctx context.Context) (func() error, error)
}

// Credentials gives the registry credentials to try, in order, for a pull of
// image; none means an anonymous pull.
type Credentials interface {
	Lookup(ctx context.Context, image string) []credentials.Credential
}

var _ Credentials = (*credentials.Provider)(nil)

// Source gives the desired set of static pods.
type Source interface {
	Snapshot() manifest.Snapshot
}

var _ Runtime = (*runtime.Client)(nil)
