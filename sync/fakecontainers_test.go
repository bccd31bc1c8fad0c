package sync

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"google.golang.org/protobuf/proto"

	"github.com/bosun-sh/bosun/runtime"
)

func (f *fakeRuntime) CreateContainer(_ context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("CreateContainer"); err != nil {
		return "", err
	}
	s, ok := f.sandboxes[sandboxID]
	if !ok || s.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		return "", fmt.Errorf("CreateContainer: %w: sandbox %s", runtime.ErrNotFound, sandboxID)
	}
	if !f.images[cfg.Image.Image] {
		return "", fmt.Errorf("CreateContainer: %w: image %s", runtime.ErrNotFound, cfg.Image.Image)
	}
	for cid, sb := range f.sandboxOf {
		c := f.containers[cid]
		if sb == sandboxID && c.Metadata.Name == cfg.Metadata.Name && c.Metadata.Attempt == cfg.Metadata.Attempt {
			return "", fmt.Errorf("CreateContainer: %w: %s attempt %d", runtime.ErrAlreadyExists, cfg.Metadata.Name, cfg.Metadata.Attempt)
		}
	}
	id := f.id("c")
	f.containers[id] = &runtimeapi.ContainerStatus{
		Id: id, Metadata: cfg.Metadata, State: runtimeapi.ContainerState_CONTAINER_CREATED,
		CreatedAt: f.clock.Now().UnixNano(), Image: cfg.Image, Labels: maps.Clone(cfg.Labels),
		Annotations: maps.Clone(cfg.Annotations), LogPath: cfg.LogPath,
	}
	f.sandboxOf[id] = sandboxID
	return id, nil
}

func (f *fakeRuntime) StartContainer(_ context.Context, id string) error {
	defer f.around("StartContainer")()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("StartContainer"); err != nil {
		return err
	}
	c, ok := f.containers[id]
	if !ok {
		return fmt.Errorf("StartContainer: %w: %s", runtime.ErrNotFound, id)
	}
	if c.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		return fmt.Errorf("StartContainer: container %s is %s", id, c.State)
	}
	c.State, c.StartedAt = runtimeapi.ContainerState_CONTAINER_RUNNING, f.clock.Now().UnixNano()
	if err, ok := f.failAfter["StartContainer"]; ok {
		delete(f.failAfter, "StartContainer")
		return err
	}
	return nil
}

func (f *fakeRuntime) stop(id string, code int32) {
	c := f.containers[id]
	if c == nil || c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return
	}
	c.State, c.ExitCode, c.FinishedAt = runtimeapi.ContainerState_CONTAINER_EXITED, code, f.clock.Now().UnixNano()
}

func (f *fakeRuntime) StopContainer(_ context.Context, id string, grace int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("StopContainer"); err != nil {
		return err
	}
	if c := f.containers[id]; c != nil && c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
		f.stopped = append(f.stopped, c.Metadata.Name)
		if f.stopGrace == nil {
			f.stopGrace = map[string]int64{}
		}
		f.stopGrace[c.Metadata.Name] = grace
	}
	f.stop(id, 137)
	return nil
}

func (f *fakeRuntime) ExecSync(_ context.Context, id string, cmd []string, _ time.Duration) (int32, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ExecSync"); err != nil {
		return -1, nil, err
	}
	c, ok := f.containers[id]
	if !ok || c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return -1, nil, fmt.Errorf("ExecSync: %w: %s", runtime.ErrNotFound, id)
	}
	f.execs = append(f.execs, c.Metadata.Name+":"+strings.Join(cmd, " "))
	if code, ok := f.execResult[c.Metadata.Name]; ok {
		return code, []byte("exec output"), nil
	}
	return 0, nil, nil
}

func (f *fakeRuntime) RemoveContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("RemoveContainer"); err != nil {
		return err
	}
	delete(f.containers, id)
	delete(f.sandboxOf, id)
	return nil
}

func (f *fakeRuntime) ListContainers(_ context.Context, sel map[string]string) ([]*runtimeapi.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ListContainers"); err != nil {
		return nil, err
	}
	var out []*runtimeapi.Container
	for id, c := range f.containers {
		if matches(c.Labels, sel) {
			out = append(out, &runtimeapi.Container{
				Id: id, PodSandboxId: f.sandboxOf[id], Metadata: c.Metadata, Image: c.Image, State: c.State,
				CreatedAt: c.CreatedAt, Labels: c.Labels, Annotations: c.Annotations,
			})
		}
	}
	return out, nil
}

func (f *fakeRuntime) ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	f.mu.Lock()
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ContainerStatus"); err != nil {
		return nil, err
	}
	c, ok := f.containers[id]
	if !ok {
		return nil, fmt.Errorf("ContainerStatus: %w: %s", runtime.ErrNotFound, id)
	}
	return proto.Clone(c).(*runtimeapi.ContainerStatus), nil
}
