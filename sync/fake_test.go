package sync

import (
	"context"
	"fmt"
	"maps"
	"strings"
	stdsync "sync"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/bosun-sh/bosun/runtime"
)

// fakeRuntime is an in-memory Runtime that behaves like containerd where it
// matters: NotFound for missing objects, idempotent Stop and Remove, and
// duplicate sandbox names (name, namespace, uid, attempt) rejected.
type fakeRuntime struct {
	mu         stdsync.Mutex
	clock      *fakeClock
	next       int
	sandboxes  map[string]*runtimeapi.PodSandbox
	containers map[string]*runtimeapi.ContainerStatus
	sandboxOf  map[string]string
	images     map[string]bool
	calls      []string
	// fail makes the next call of a method fail with the error.
	fail map[string]error
	// down makes every call fail as an unreachable runtime does.
	down bool
	// events feeds the container event stream (nil: not implemented); a nil
	// error is an event.
	events chan error
	// reopened lists the containers whose log was reopened.
	reopened []string
	// imageUID is the user of every image.
	imageUID int64
	// execResult is the exit code of ExecSync per container name (default 0);
	// execs records each exec as "container:cmd".
	execResult map[string]int32
	execs      []string
	// stopped lists the names of running containers stopped, in order.
	stopped []string
	// stopGrace is the grace period of the StopContainer call that stopped
	// each running container, by container name.
	stopGrace map[string]int64
	// hold, when set, makes ContainerStatus wait until it is closed, as a
	// hung runtime does.
	hold chan struct{}
	// before and after, when set for a method, run around its calls
	// outside the lock: to hold a call, or to look at what runs meanwhile.
	before, after map[string]func()
	// failAfter makes the next call of a method take effect and then
	// return the error, as a call whose answer is lost does (StartContainer).
	failAfter map[string]error
	// pullAuths records the credentials of each PullImage call (nil:
	// anonymous); a pull whose password is pullPassword succeeds.
	pullAuths    []*runtimeapi.AuthConfig
	pullPassword string
}

// around runs the before hook of method and returns its after hook.
func (f *fakeRuntime) around(method string) func() {
	f.mu.Lock()
	b, a := f.before[method], f.after[method]
	f.mu.Unlock()
	if b != nil {
		b()
	}
	return func() {
		if a != nil {
			a()
		}
	}
}

func newFakeRuntime(clock *fakeClock) *fakeRuntime {
	return &fakeRuntime{
		clock:      clock,
		sandboxes:  map[string]*runtimeapi.PodSandbox{},
		containers: map[string]*runtimeapi.ContainerStatus{},
		sandboxOf:  map[string]string{},
		images:     map[string]bool{"busybox:1.36": true},
		fail:       map[string]error{},
		failAfter:  map[string]error{},
	}
}

func (f *fakeRuntime) call(method string) error {
	f.calls = append(f.calls, method)
	if f.down {
		return fmt.Errorf("%s: %w", method, runtime.ErrUnavailable)
	}
	if err, ok := f.fail[method]; ok {
		delete(f.fail, method)
		return err
	}
	return nil
}

func (f *fakeRuntime) id(prefix string) string {
	f.next++
	return fmt.Sprintf("%s%04d", prefix, f.next)
}

// mutations returns the calls that change something, and forgets all calls.
func (f *fakeRuntime) mutations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		switch c {
		case "ListPodSandbox", "ListContainers", "ContainerStatus", "ImageStatus", "PodSandboxStatus":
		default:
			out = append(out, c)
		}
	}
	f.calls = nil
	return out
}

func (f *fakeRuntime) RunPodSandbox(_ context.Context, cfg *runtimeapi.PodSandboxConfig, _ string) (string, error) {
	defer f.around("RunPodSandbox")()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("RunPodSandbox"); err != nil {
		return "", err
	}
	m := cfg.Metadata
	for _, s := range f.sandboxes {
		if s.Metadata.Name == m.Name && s.Metadata.Namespace == m.Namespace && s.Metadata.Uid == m.Uid && s.Metadata.Attempt == m.Attempt {
			return "", fmt.Errorf("RunPodSandbox: %w: name %s_%s_%s_%d is reserved", runtime.ErrAlreadyExists, m.Name, m.Namespace, m.Uid, m.Attempt)
		}
	}
	id := f.id("sb")
	f.sandboxes[id] = &runtimeapi.PodSandbox{
		Id: id, Metadata: m, State: runtimeapi.PodSandboxState_SANDBOX_READY,
		CreatedAt: f.clock.Now().UnixNano(), Labels: maps.Clone(cfg.Labels), Annotations: maps.Clone(cfg.Annotations),
	}
	return id, nil
}

func (f *fakeRuntime) StopPodSandbox(_ context.Context, id string) error {
	defer f.around("StopPodSandbox")()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("StopPodSandbox"); err != nil {
		return err
	}
	s, ok := f.sandboxes[id]
	if !ok {
		return nil
	}
	for cid, sb := range f.sandboxOf {
		if sb == id {
			f.stop(cid, 137)
		}
	}
	s.State = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	return nil
}

func (f *fakeRuntime) RemovePodSandbox(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("RemovePodSandbox"); err != nil {
		return err
	}
	for cid, sb := range f.sandboxOf {
		if sb == id {
			delete(f.containers, cid)
			delete(f.sandboxOf, cid)
		}
	}
	delete(f.sandboxes, id)
	return nil
}

func matches(labels, sel map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeRuntime) ListPodSandbox(_ context.Context, sel map[string]string) ([]*runtimeapi.PodSandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ListPodSandbox"); err != nil {
		return nil, err
	}
	var out []*runtimeapi.PodSandbox
	for _, s := range f.sandboxes {
		if matches(s.Labels, sel) {
			out = append(out, proto.Clone(s).(*runtimeapi.PodSandbox))
		}
	}
	return out, nil
}

func (f *fakeRuntime) PodSandboxStatus(_ context.Context, id string) (*runtimeapi.PodSandboxStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("PodSandboxStatus"); err != nil {
		return nil, err
	}
	s, ok := f.sandboxes[id]
	if !ok {
		return nil, fmt.Errorf("PodSandboxStatus: %w: %s", runtime.ErrNotFound, id)
	}
	return &runtimeapi.PodSandboxStatus{Id: id, Metadata: s.Metadata, State: s.State,
		Network: &runtimeapi.PodSandboxNetworkStatus{Ip: "10.0.0." + strings.TrimLeft(id[2:], "0")}}, nil
}

func (f *fakeRuntime) ReopenContainerLog(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ReopenContainerLog"); err != nil {
		return err
	}
	if _, ok := f.containers[id]; !ok {
		return fmt.Errorf("ReopenContainerLog: %w: %s", runtime.ErrNotFound, id)
	}
	f.reopened = append(f.reopened, id)
	return nil
}

func (f *fakeRuntime) ImageStatus(_ context.Context, image string) (*runtimeapi.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ImageStatus"); err != nil {
		return nil, err
	}
	if !f.images[image] {
		return nil, nil
	}
	return &runtimeapi.Image{Id: "sha256:" + image, Uid: &runtimeapi.Int64Value{Value: f.imageUID}}, nil
}

func (f *fakeRuntime) PullImage(_ context.Context, image string, auth *runtimeapi.AuthConfig, _ *runtimeapi.PodSandboxConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pullAuths = append(f.pullAuths, auth)
	if err := f.call("PullImage"); err != nil {
		return err
	}
	if f.pullPassword != "" && auth.GetPassword() == f.pullPassword {
		f.images[image] = true
		return nil
	}
	return fmt.Errorf("PullImage %s: no registry reachable", image)
}

func (f *fakeRuntime) ContainerEvents(ctx context.Context) (func() error, error) {
	if f.events == nil {
		return nil, fmt.Errorf("GetContainerEvents: %w", runtime.ErrUnimplemented)
	}
	return func() error {
		select {
		case err := <-f.events:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}, nil
}

// exit makes a running container exit with code, as its process would.
func (f *fakeRuntime) exit(id string, code int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stop(id, code)
}

// killSandbox makes a sandbox die (its pause process killed).
func (f *fakeRuntime) killSandbox(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sandboxes[id].State = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
}

// running returns the running containers by name ("pod/container").
func (f *fakeRuntime) running() map[string]*runtimeapi.ContainerStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*runtimeapi.ContainerStatus{}
	for _, c := range f.containers {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			out[c.Labels[runtime.LabelPodName]+"/"+c.Metadata.Name] = c
		}
	}
	return out
}

// fakeClock is a fake clock whose Add moves time on and fires the timers
// that are due (probe workers wait on them).
type fakeClock struct {
	*testingclock.FakeClock
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{testingclock.NewFakeClock(t)} }

func (c *fakeClock) Add(d time.Duration) { c.Step(d) }
