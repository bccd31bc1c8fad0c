package prober

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/bosun-sh/bosun/runtime"
)

// fakeExec answers ExecSync with the exit code set per container ID.
type fakeExec struct {
	mu    stdsync.Mutex
	codes map[string]int32
	calls int
}

func (f *fakeExec) ExecSync(_ context.Context, id string, _ []string, _ time.Duration) (int32, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.codes[id], nil, nil
}

func (f *fakeExec) set(id string, code int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes[id] = code
}

func execProbe(period, failures int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}},
		PeriodSeconds: period, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: failures}
}

type rig struct {
	t        *testing.T
	clk      *testingclock.FakeClock
	exec     *fakeExec
	m        *Manager
	changes  chan struct{}
	warnings chan Warning
	cancel   context.CancelFunc
}

func newRig(t *testing.T) *rig {
	exec := &fakeExec{codes: map[string]int32{}}
	r := newRigWith(t, exec, nil)
	r.exec = exec
	return r
}

// newRigWith is a rig whose manager runs exec probes on exec and asks
// status (when not nil) when containers started.
func newRigWith(t *testing.T, exec Execer, status StatusReader) *rig {
	r := &rig{t: t, clk: testingclock.NewFakeClock(time.Unix(1_800_000_000, 0)), changes: make(chan struct{}, 100), warnings: make(chan Warning, 100)}
	r.m = New(Config{Exec: exec, Status: status, Clock: r.clk, OnChange: func() { r.changes <- struct{}{} },
		OnWarning: func(w Warning) { r.warnings <- w }})
	t.Cleanup(func() {
		if r.cancel != nil {
			r.cancel()
		}
		r.m.Wait()
	})
	return r
}

func (r *rig) sync(cs ...Container) {
	ctx, cancel := context.WithCancel(context.Background())
	if r.cancel != nil {
		prev := r.cancel
		r.cancel = func() { prev(); cancel() }
	} else {
		r.cancel = cancel
	}
	r.m.Sync(ctx, cs)
}

// tick waits until every worker waits on its timer, then moves the clock.
func (r *rig) tick(d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !r.clk.HasWaiters() {
		if time.Now().After(deadline) {
			r.t.Fatal("no worker waits on the clock")
		}
		goruntime.Gosched() // until a worker blocks on its timer
	}
	r.clk.Step(d)
}

// tickUntil moves the clock on a second at a time until cond holds.
func (r *rig) tickUntil(what string, cond func() bool) {
	r.t.Helper()
	for i := 0; !cond(); i++ {
		if i > 100 {
			r.t.Fatalf("never %s", what)
		}
		r.tick(time.Second)
		select {
		case <-r.changes:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitWarning waits for the manager to report a warning.
func (r *rig) waitWarning() Warning {
	r.t.Helper()
	select {
	case w := <-r.warnings:
		return w
	case <-time.After(10 * time.Second):
		r.t.Fatal("no warning reported")
	}
	return Warning{}
}

// waitChange waits for the manager to report a change.
func (r *rig) waitChange() {
	r.t.Helper()
	select {
	case <-r.changes:
	case <-time.After(10 * time.Second):
		r.t.Fatal("no change reported")
	}
}

func TestLivenessFailurePublishesAKillAndStops(t *testing.T) {
	r := newRig(t)
	spec := &corev1.Container{Name: "main", LivenessProbe: execProbe(1, 2)}
	r.exec.set("c1", 1)
	r.sync(Container{Pod: "default/p", Spec: spec, Target: Target{ContainerID: "c1"}, Created: r.clk.Now()})
	r.tick(0) // the first probe runs at once
	r.tick(time.Second)
	r.waitChange()
	res, failed := r.m.Failed("c1")
	if !failed || res.Kind != Liveness || res.ConsecutiveFailures != 2 || res.Message == "" {
		t.Fatalf("Failed(c1) = %+v, %v; want a liveness failure after 2 probes", res, failed)
	}
	r.m.Wait() // the worker stopped on its own
	if _, still := r.m.Failed("c1"); !still {
		t.Error("the failure was forgotten while the container still runs")
	}
	r.sync() // the container is gone
	if _, ok := r.m.Result("c1", Liveness); ok {
		t.Error("the result outlived its container")
	}
}

func TestStartupGatesReadinessAndStopsOnceSucceeded(t *testing.T) {
	r := newRig(t)
	spec := &corev1.Container{Name: "main", StartupProbe: execProbe(1, 100), ReadinessProbe: execProbe(1, 1)}
	r.exec.set("c1", 1)
	r.sync(Container{Pod: "default/p", Spec: spec, Target: Target{ContainerID: "c1"}, Created: r.clk.Now()})
	r.tick(0)
	r.tick(time.Second)
	if r.m.Started("c1", spec) {
		t.Fatal("started before its startup probe succeeded")
	}
	if ready, _ := r.m.Status("c1", spec); ready {
		t.Fatal("ready before its startup probe succeeded")
	}
	r.exec.set("c1", 0)
	r.tickUntil("started", func() bool { return r.m.Started("c1", spec) })
	r.tickUntil("ready after startup", func() bool {
		ready, results := r.m.Status("c1", spec)
		return ready && len(results) == 2
	})
	if _, failed := r.m.Failed("c1"); failed {
		t.Error("a readiness probe asked for a kill")
	}
}

func TestWarningsAreReportedOncePerChangeAndAtMostOnceAMinute(t *testing.T) {
	var got []string
	var mu stdsync.Mutex
	clk := testingclock.NewFakeClock(time.Unix(1_800_000_000, 0))
	m := New(Config{Clock: clk, OnWarning: func(w Warning) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%s %s: %s", w.Kind, w.Container, w.Message))
	}})
	w := &worker{m: m, c: Container{Pod: "default/p", Spec: &corev1.Container{Name: "main"}}, probe: execProbe(1, 3), result: Result{Kind: Readiness}}
	w.publish("redirect", nil)
	w.publish("redirect", nil)
	// A container that changes its answer at every probe gets no new word
	// within the minute.
	for i := range 100 {
		clk.Step(time.Second / 2)
		w.publish(fmt.Sprintf("redirect to /%d", i), nil)
		w.publish("", nil)
	}
	clk.Step(10 * time.Second)
	w.publish("redirect", nil)
	if len(got) != 2 || got[0] != "readiness main: redirect" || got[1] != "readiness main: redirect" {
		t.Errorf("warnings %q, want the first and one a minute later", got)
	}
}

// execAnswer is one answer of scriptExec.
type execAnswer struct {
	code int32
	err  error
}

// scriptExec answers ExecSync calls from a script, in order (the last
// answer again once the script ran out), and sends the fake clock's time of
// each call on called.
type scriptExec struct {
	clk    *testingclock.FakeClock
	mu     stdsync.Mutex
	script []execAnswer
	calls  int
	called chan time.Time
}

func newScriptExec(clk *testingclock.FakeClock, script ...execAnswer) *scriptExec {
	return &scriptExec{clk: clk, script: script, called: make(chan time.Time, 100)}
}

func (f *scriptExec) ExecSync(context.Context, string, []string, time.Duration) (int32, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.script[min(f.calls, len(f.script)-1)]
	f.calls++
	f.called <- f.clk.Now()
	return a.code, nil, a.err
}

func (f *scriptExec) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// statusFunc is a StatusReader.
type statusFunc func(id string) (*runtimeapi.ContainerStatus, error)

func (f statusFunc) ContainerStatus(_ context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	return f(id)
}

func TestInitialDelayCountsFromTheContainersStartNotItsCreation(t *testing.T) {
	r := newRigWith(t, nil, nil)
	now := r.clk.Now()
	created, started := now.Add(-20*time.Second), now.Add(-2*time.Second)
	exec := newScriptExec(r.clk, execAnswer{code: 0})
	r.m.runner.Exec = exec
	r.m.cfg.Status = statusFunc(func(id string) (*runtimeapi.ContainerStatus, error) {
		return &runtimeapi.ContainerStatus{Id: id, CreatedAt: created.UnixNano(), StartedAt: started.UnixNano()}, nil
	})
	p := execProbe(10, 3)
	p.InitialDelaySeconds = 5
	r.sync(Container{Pod: "default/p", Spec: &corev1.Container{Name: "main", ReadinessProbe: p}, Target: Target{ContainerID: "c1"}, Created: created})
	r.tick(2 * time.Second) // 4 s after the start: still in the delay
	r.tick(time.Second)
	if at := <-exec.called; !at.Equal(started.Add(5 * time.Second)) {
		t.Errorf("the first probe ran %v after the start, want 5s (initialDelaySeconds from StartedAt, not from %v before, the creation)", at.Sub(started), started.Sub(created))
	}
}

func TestAProbeThatCouldNotRunIsTriedThreeTimesThenThrownAway(t *testing.T) {
	r := newRigWith(t, nil, nil)
	notRun := execAnswer{err: fmt.Errorf("ExecSync c1: %w: containerd is restarting", runtime.ErrUnavailable)}
	failure := execAnswer{code: 1}
	exec := newScriptExec(r.clk, failure, notRun, notRun, notRun, failure)
	r.m.runner.Exec = exec
	r.sync(Container{Pod: "default/p", Spec: &corev1.Container{Name: "main", LivenessProbe: execProbe(1, 2)}, Target: Target{ContainerID: "c1"}, Created: r.clk.Now()})
	r.tick(0)
	r.tick(time.Second)
	if w := r.waitWarning(); w.Kind != Liveness || !strings.Contains(w.Message, "could not be run") || !strings.Contains(w.Message, "containerd is restarting") {
		t.Errorf("warning %+v, want a liveness probe that could not be run", w)
	}
	if n := exec.count(); n != 4 {
		t.Errorf("%d exec calls, want 4: one failure, then the probe that could not run tried 3 times", n)
	}
	if res, failed := r.m.Failed("c1"); failed {
		t.Fatalf("Failed = %+v; a probe that could not run counted as the second failure", res)
	}
	if res, _ := r.m.Result("c1", Liveness); res.ConsecutiveFailures != 1 || res.Success {
		t.Errorf("result %+v, want the one failure before the probe that could not run, kept", res)
	}
	r.tick(time.Second)
	r.waitChange()
	if res, failed := r.m.Failed("c1"); !failed || res.ConsecutiveFailures != 2 {
		t.Errorf("Failed = %+v, %v; want a kill after the second failure (the throw-away did not reset the count)", res, failed)
	}
}

func TestAnExecProbeThatTimesOutIsAFailure(t *testing.T) {
	r := newRigWith(t, nil, nil)
	exec := newScriptExec(r.clk, execAnswer{err: fmt.Errorf("ExecSync c1: %w: timeout 1s exceeded", runtime.ErrTimeout)})
	r.m.runner.Exec = exec
	r.sync(Container{Pod: "default/p", Spec: &corev1.Container{Name: "main", LivenessProbe: execProbe(1, 1)}, Target: Target{ContainerID: "c1"}, Created: r.clk.Now()})
	r.tick(0)
	r.waitChange()
	if res, failed := r.m.Failed("c1"); !failed || !strings.Contains(res.Message, "timed out after 1s") || exec.count() != 1 {
		t.Errorf("Failed = %+v, %v after %d calls; want a failure at the first timeout", res, failed, exec.count())
	}
}
