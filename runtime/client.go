package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Deadlines for CRI calls. Each call gets its own.
const (
	callTimeout    = 30 * time.Second
	sandboxTimeout = 2 * time.Minute
	pullTimeout    = 10 * time.Minute
	// stopSlack is added to a stop's grace period for the call's deadline.
	stopSlack = 30 * time.Second
)

// Client is a CRI v1 client for one runtime endpoint. It is safe for
// concurrent use.
type Client struct {
	endpoint string
	conn     *grpc.ClientConn
	rt       runtimeapi.RuntimeServiceClient
	img      runtimeapi.ImageServiceClient
	log      *slog.Logger
	observe  func(method, code string, d time.Duration)
	// timeout, when set, is the kubelet's runtimeRequestTimeout: the
	// deadline of each call in place of bosun's own.
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithObserver has every CRI call reported with its method, gRPC code and
// duration (for metrics).
func WithObserver(f func(method, code string, d time.Duration)) Option {
	return func(c *Client) { c.observe = f }
}

// WithRequestTimeout gives each CRI call the deadline d, as the kubelet's
// runtimeRequestTimeout (--runtime-request-timeout) does: RunPodSandbox gets
// twice d, StopContainer and ExecSync d on top of their own timeout, and
// PullImage at least d. Zero keeps bosun's deadlines (30s for a call, 2m
// for sandbox and container creation, 10m for a pull).
func WithRequestTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// Info is what the runtime says about itself.
type Info struct {
	RuntimeName    string
	RuntimeVersion string
	APIVersion     string
	NetworkReady   bool
	NetworkReason  string
}

// SocketPath returns the file of a unix:// endpoint (or a bare path).
func SocketPath(endpoint string) (string, error) {
	switch {
	case strings.HasPrefix(endpoint, "unix://"):
		return strings.TrimPrefix(endpoint, "unix://"), nil
	case strings.HasPrefix(endpoint, "/"):
		return endpoint, nil
	}
	return "", fmt.Errorf("container runtime endpoint %s: only unix:// endpoints are supported", endpoint)
}

// Dial connects to endpoint and checks that it is a ready CRI v1 runtime.
// Errors are one line naming the endpoint.
func Dial(ctx context.Context, endpoint string, log *slog.Logger, opts ...Option) (*Client, Info, error) {
	path, err := SocketPath(endpoint)
	if err != nil {
		return nil, Info{}, err
	}
	if fi, err := os.Stat(path); err != nil {
		return nil, Info{}, fmt.Errorf("container runtime endpoint %s: socket %s: %w", endpoint, path, errors.Unwrap(err))
	} else if fi.Mode()&os.ModeSocket == 0 {
		return nil, Info{}, fmt.Errorf("container runtime endpoint %s: %s is not a socket", endpoint, path)
	}
	c := &Client{endpoint: endpoint, log: log}
	for _, o := range opts {
		o(c)
	}
	conn, err := grpc.NewClient("unix://"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(c.instrument),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)),
	)
	if err != nil {
		return nil, Info{}, fmt.Errorf("container runtime endpoint %s: %w", endpoint, err)
	}
	c.conn = conn
	c.rt = runtimeapi.NewRuntimeServiceClient(conn)
	c.img = runtimeapi.NewImageServiceClient(conn)
	info, err := c.Check(ctx)
	if err != nil {
		conn.Close()
		return nil, Info{}, err
	}
	return c, info, nil
}

// Check asks the runtime for its version and status: it must speak CRI v1
// and be RuntimeReady. Network readiness is only reported.
func (c *Client) Check(ctx context.Context) (Info, error) {
	ctx1, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := c.rt.Version(ctx1, &runtimeapi.VersionRequest{})
	if err != nil {
		err = mapError("Version", err)
		if errors.Is(err, ErrUnimplemented) {
			return Info{}, fmt.Errorf("container runtime endpoint %s: not a CRI v1 runtime (runtime.v1.RuntimeService/Version is not served)", c.endpoint)
		}
		return Info{}, fmt.Errorf("container runtime endpoint %s: %w", c.endpoint, err)
	}
	if v.RuntimeApiVersion != "v1" {
		return Info{}, fmt.Errorf("container runtime endpoint %s: runtime %s %s speaks CRI %q, bosun needs v1", c.endpoint, v.RuntimeName, v.RuntimeVersion, v.RuntimeApiVersion)
	}
	info := Info{RuntimeName: v.RuntimeName, RuntimeVersion: v.RuntimeVersion, APIVersion: v.RuntimeApiVersion}
	st, err := c.rt.Status(ctx1, &runtimeapi.StatusRequest{})
	if err != nil {
		return info, fmt.Errorf("container runtime endpoint %s: %w", c.endpoint, mapError("Status", err))
	}
	for _, cond := range st.GetStatus().GetConditions() {
		switch cond.Type {
		case runtimeapi.RuntimeReady:
			if !cond.Status {
				return info, fmt.Errorf("container runtime endpoint %s: runtime not ready: %s %s", c.endpoint, cond.Reason, cond.Message)
			}
		case runtimeapi.NetworkReady:
			info.NetworkReady = cond.Status
			info.NetworkReason = strings.TrimSpace(cond.Reason + " " + cond.Message)
		}
	}
	return info, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// instrument logs every unary CRI call with its duration and reports it to
// the observer (metrics).
func (c *Client) instrument(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	name := method[strings.LastIndex(method, "/")+1:]
	start := time.Now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	d, code := time.Since(start), status.Code(err).String()
	c.log.Debug("cri call", "method", name, "duration", d, "code", code)
	if c.observe != nil {
		c.observe(name, code, d)
	}
	return err
}

// withTimeout gives a call bosun's deadline d, or the configured request
// timeout when there is one.
func (c *Client) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if c.timeout > 0 {
		d = c.timeout
	}
	return context.WithTimeout(ctx, d)
}

// slack is what a call with a timeout of its own gets on top of it.
func (c *Client) slack(d time.Duration) time.Duration {
	if c.timeout > 0 {
		return c.timeout
	}
	return d
}

// RunPodSandbox creates and starts a sandbox and returns its ID.
func (c *Client) RunPodSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig, handler string) (string, error) {
	d := sandboxTimeout
	if c.timeout > 0 {
		d = 2 * c.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	r, err := c.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: handler})
	if err != nil {
		return "", mapError("RunPodSandbox "+cfg.GetMetadata().GetName(), err)
	}
	return r.PodSandboxId, nil
}

// StopPodSandbox stops a sandbox; it returns nil when the sandbox is gone.
func (c *Client) StopPodSandbox(ctx context.Context, id string) error {
	ctx, cancel := c.withTimeout(ctx, sandboxTimeout)
	defer cancel()
	_, err := c.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
	return ignoreNotFound(mapError("StopPodSandbox "+short(id), err))
}

// RemovePodSandbox removes a sandbox and its containers; it returns nil when
// the sandbox is already gone.
func (c *Client) RemovePodSandbox(ctx context.Context, id string) error {
	ctx, cancel := c.withTimeout(ctx, sandboxTimeout)
	defer cancel()
	_, err := c.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
	return ignoreNotFound(mapError("RemovePodSandbox "+short(id), err))
}

// ListPodSandbox lists the sandboxes that carry all of labels.
func (c *Client) ListPodSandbox(ctx context.Context, labels map[string]string) ([]*runtimeapi.PodSandbox, error) {
	ctx, cancel := c.withTimeout(ctx, callTimeout)
	defer cancel()
	r, err := c.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: labels}})
	if err != nil {
		return nil, mapError("ListPodSandbox", err)
	}
	return r.Items, nil
}

// CreateContainer creates a container in a sandbox and returns its ID.
func (c *Client) CreateContainer(ctx context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig, sandboxCfg *runtimeapi.PodSandboxConfig) (string, error) {
	ctx, cancel := c.withTimeout(ctx, sandboxTimeout)
	defer cancel()
	r, err := c.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sandboxID, Config: cfg, SandboxConfig: sandboxCfg})
	if err != nil {
		return "", mapError("CreateContainer "+cfg.GetMetadata().GetName(), err)
	}
	return r.ContainerId, nil
}

// StartContainer starts a created container.
func (c *Client) StartContainer(ctx context.Context, id string) error {
	ctx, cancel := c.withTimeout(ctx, sandboxTimeout)
	defer cancel()
	_, err := c.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
	return mapError("StartContainer "+short(id), err)
}

// StopContainer stops a container, sending SIGKILL after grace seconds; it
// returns nil when the container is gone.
func (c *Client) StopContainer(ctx context.Context, id string, grace int64) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(grace)*time.Second+c.slack(stopSlack))
	defer cancel()
	_, err := c.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: grace})
	return ignoreNotFound(mapError("StopContainer "+short(id), err))
}

// RemoveContainer removes a container; it returns nil when it is gone.
func (c *Client) RemoveContainer(ctx context.Context, id string) error {
	ctx, cancel := c.withTimeout(ctx, callTimeout)
	defer cancel()
	_, err := c.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id})
	return ignoreNotFound(mapError("RemoveContainer "+short(id), err))
}

// ListContainers lists the containers that carry all of labels.
func (c *Client) ListContainers(ctx context.Context, labels map[string]string) ([]*runtimeapi.Container, error) {
	ctx, cancel := c.withTimeout(ctx, callTimeout)
	defer cancel()
	r, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: labels}})
	if err != nil {
		return nil, mapError("ListContainers", err)
	}
	return r.Containers, nil
}

// ContainerStatus returns a container's status (exit code, times, reason).
func (c *Client) ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	ctx, cancel := c.withTimeout(ctx, callTimeout)
	defer cancel()
	r, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		return nil, mapError("ContainerStatus "+short(id), err)
	}
	return r.Status, nil
}

// ImageStatus returns image as the runtime has it (with its user), nil when
// the runtime does not have it.
func (c *Client) ImageStatus(ctx context.Context, image string) (*runtimeapi.Image, error) {
	ctx, cancel := c.withTimeout(ctx, callTimeout)
	defer cancel()
	r, err := c.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: image}})
	if err != nil {
		return nil, mapError("ImageStatus "+image, err)
	}
	return r.Image, nil
}

// ListImages returns every image of the runtime.
func (c *Client) ListImages(ctx context.Context) ([]*runtimeapi.Image, error) {
	ctx, cancel := c.withTimeout(ctx, callTimeout)
	defer cancel()
	r, err := c.img.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return nil, mapError("ListImages", err)
	}
	return r.Images, nil
}

// ImageFsInfo returns the filesystems the runtime keeps its images on.
func (c *Client) ImageFsInfo(ctx context.Context) ([]*runtimeapi.FilesystemUsage, error) {
	ctx, cancel := c.withTimeout(ctx, callTimeout)
	defer cancel()
	r, err := c.img.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
	if err != nil {
		return nil, mapError("ImageFsInfo", err)
	}
	return r.ImageFilesystems, nil
}

// RemoveImage removes an image by ID or name; an image already gone is not
// an error.
func (c *Client) RemoveImage(ctx context.Context, image string) error {
	ctx, cancel := c.withTimeout(ctx, callTimeout)
	defer cancel()
	_, err := c.img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: image}})
	return ignoreNotFound(mapError("RemoveImage "+image, err))
}

// PullImage pulls image for a sandbox with auth's credentials (nil:
// anonymously); auth is never logged.
func (c *Client) PullImage(ctx context.Context, image string, auth *runtimeapi.AuthConfig, sandboxCfg *runtimeapi.PodSandboxConfig) error {
	ctx, cancel := context.WithTimeout(ctx, max(pullTimeout, c.timeout))
	defer cancel()
	_, err := c.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: image}, Auth: auth, SandboxConfig: sandboxCfg})
	return mapError("PullImage "+image, err)
}

func ignoreNotFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// short abbreviates a runtime ID for messages, as crictl does.
func short(id string) string {
	if len(id) > 13 {
		return id[:13]
	}
	return id
}

// PodSandboxStatus returns a sandbox's status, with its IP.
func (c *Client) PodSandboxStatus(ctx context.Context, id string) (*runtimeapi.PodSandboxStatus, error) {
	ctx, cancel := c.withTimeout(ctx, callTimeout)
	defer cancel()
	r, err := c.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		return nil, mapError("PodSandboxStatus "+short(id), err)
	}
	return r.Status, nil
}

// ReopenContainerLog asks the runtime to reopen a container's log file,
// after the file was rotated.
func (c *Client) ReopenContainerLog(ctx context.Context, id string) error {
	ctx, cancel := c.withTimeout(ctx, callTimeout)
	defer cancel()
	_, err := c.rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: id})
	return mapError("ReopenContainerLog "+short(id), err)
}

// maxExecOutput is the most bytes of an exec's output ExecSync keeps, as
// the kubelet keeps 10 KiB of an exec probe's output: the container
// controls it.
const maxExecOutput = 10 << 10

// ExecSync runs cmd in a container and returns its exit code and the first
// maxExecOutput bytes of its output (stdout then stderr), waiting at most
// timeout.
func (c *Client) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (int32, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout+c.slack(callTimeout))
	defer cancel()
	r, err := c.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: int64(timeout.Seconds())})
	if err != nil {
		return -1, nil, mapError("ExecSync "+short(id), err)
	}
	return r.ExitCode, headOf(r.Stdout, r.Stderr, maxExecOutput), nil
}

// headOf is the first n bytes of a then b, in a new slice, so the answer
// that held them can be freed.
func headOf(a, b []byte, n int) []byte {
	a = a[:min(len(a), n)]
	b = b[:min(len(b), n-len(a))]
	out := make([]byte, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

// CgroupDriver asks the runtime which cgroup driver it uses (CRI
// RuntimeConfig): "systemd" or "cgroupfs", or "" when it answers without a
// Linux config. A runtime that does not serve the call (containerd before
// 2.0) gives an error wrapping ErrUnimplemented.
func (c *Client) CgroupDriver(ctx context.Context) (string, error) {
	ctx, cancel := c.withTimeout(ctx, callTimeout)
	defer cancel()
	r, err := c.rt.RuntimeConfig(ctx, &runtimeapi.RuntimeConfigRequest{})
	if err != nil {
		return "", mapError("RuntimeConfig", err)
	}
	if r.GetLinux() == nil {
		return "", nil
	}
	switch d := r.GetLinux().GetCgroupDriver(); d {
	case runtimeapi.CgroupDriver_SYSTEMD:
		return CgroupDriverSystemd, nil
	case runtimeapi.CgroupDriver_CGROUPFS:
		return CgroupDriverCgroupfs, nil
	default:
		return "", fmt.Errorf("RuntimeConfig: unknown cgroup driver %d", d)
	}
}
