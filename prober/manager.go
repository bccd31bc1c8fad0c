package prober

import (
	"context"
	"log/slog"
	stdsync "sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// StatusReader is the runtime call that tells when a container started.
type StatusReader interface {
	ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error)
}

// Config configures a Manager.
type Config struct {
	Exec Execer
	// Status tells each worker when its container started, which is when
	// initialDelaySeconds starts to count, as in the kubelet; with no
	// Status, it counts from Container.Created.
	Status StatusReader
	Clock  clock.WithTicker
	Log    *slog.Logger
	// OnChange is called, without any lock held, when a verdict changes or
	// a container must be killed. It must not block.
	OnChange func()
	// OnWarning is called, without any lock held, when a probe's warning
	// changes. It must not block.
	OnWarning func(Warning)
}

// Container is a running container to probe.
type Container struct {
	// Pod is the pod's key, for logs and warnings.
	Pod  string
	Spec *corev1.Container
	// Target is where the probes go; Target.ContainerID names the instance.
	Target Target
	// Created is when the container was created: initialDelaySeconds counts
	// from it only when the runtime does not say when it started.
	Created time.Time
}

type workerKey struct {
	containerID string
	kind        Kind
}

// Manager keeps one worker per probe of each running container and their
// results. It is safe for concurrent use.
type Manager struct {
	cfg    Config
	runner Runner
	wg     stdsync.WaitGroup

	mu      stdsync.Mutex
	workers map[workerKey]*worker
}

// New returns a Manager with no workers.
func New(cfg Config) *Manager {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func() {}
	}
	if cfg.OnWarning == nil {
		cfg.OnWarning = func(Warning) {}
	}
	return &Manager{cfg: cfg, runner: Runner{Exec: cfg.Exec, Clock: cfg.Clock}, workers: map[workerKey]*worker{}}
}

// probeOf is a container's probe of kind k, nil if it has none.
func probeOf(c *corev1.Container, k Kind) *corev1.Probe {
	switch k {
	case Startup:
		return c.StartupProbe
	case Liveness:
		return c.LivenessProbe
	case Readiness:
		return c.ReadinessProbe
	}
	return nil
}

// Sync starts a worker for every probe of running that has none, and stops
// and forgets the workers (and results) of containers not in running.
// Workers end when ctx ends; Wait waits for them.
func (m *Manager) Sync(ctx context.Context, running []Container) {
	live := map[workerKey]bool{}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range running {
		for _, k := range Kinds {
			p := probeOf(c.Spec, k)
			if p == nil {
				continue
			}
			key := workerKey{c.Target.ContainerID, k}
			live[key] = true
			if _, ok := m.workers[key]; ok {
				continue
			}
			wctx, cancel := context.WithCancel(ctx)
			w := &worker{m: m, c: c, probe: p, cancel: cancel, result: Result{Kind: k}}
			m.workers[key] = w
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				w.run(wctx)
			}()
		}
	}
	for key, w := range m.workers {
		if !live[key] {
			w.cancel()
			delete(m.workers, key)
		}
	}
}

// Wait blocks until every worker has returned (they return when the ctx
// given to Sync ends, or when their container no longer runs).
func (m *Manager) Wait() { m.wg.Wait() }

// Result returns the last result of a container's probe of kind k, and
// whether it has a worker.
func (m *Manager) Result(containerID string, k Kind) (Result, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.workers[workerKey{containerID, k}]
	if !ok {
		return Result{}, false
	}
	return w.result, true
}

// Started reports whether a running container has started: its startup
// probe, if it has one, succeeded.
func (m *Manager) Started(containerID string, c *corev1.Container) bool {
	if c.StartupProbe == nil {
		return true
	}
	r, _ := m.Result(containerID, Startup)
	return r.OK
}

// Failed returns the result of the startup or liveness probe of a container
// that failed for good, which asks for a kill.
func (m *Manager) Failed(containerID string) (Result, bool) {
	for _, k := range []Kind{Startup, Liveness} {
		if r, ok := m.Result(containerID, k); ok && r.Failed {
			return r, true
		}
	}
	return Result{}, false
}

// Status is a running container's readiness and the results of its probes
// that ran: ready when its startup probe (if any) succeeded and its
// readiness probe (if any) says so.
func (m *Manager) Status(containerID string, c *corev1.Container) (bool, []Result) {
	if c == nil {
		return true, nil
	}
	ready := true
	var out []Result
	for _, k := range Kinds {
		if probeOf(c, k) == nil {
			continue
		}
		r, found := m.Result(containerID, k)
		if found && !r.Last.IsZero() {
			out = append(out, r)
		}
		if k != Liveness && !r.OK {
			ready = false
		}
	}
	return ready, out
}
