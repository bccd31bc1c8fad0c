package prober

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// worker runs one probe of one container until ctx ends, the probe fails
// for good (startup, liveness), or a startup probe succeeds.
type worker struct {
	m      *Manager
	c      Container
	probe  *corev1.Probe
	cancel context.CancelFunc

	// result is guarded by m.mu.
	result Result
	// warning is the last warning reported and warnedAt when; only the
	// worker's goroutine touches them.
	warning  string
	warnedAt time.Time
	// successes and failures count the probes in a row; only the worker's
	// goroutine touches them.
	successes, failures int32
}

// maxProbeRetries is how many times in a row a probe that could not be run
// (ErrNotRun) is tried before its result is thrown away, as the kubelet's
// prober does.
const maxProbeRetries = 3

func (w *worker) run(ctx context.Context) {
	clk := w.m.cfg.Clock
	p := w.probe
	period := time.Duration(p.PeriodSeconds) * time.Second
	started, ok := w.started(ctx, period)
	if !ok {
		return
	}
	first := started.Add(time.Duration(p.InitialDelaySeconds) * time.Second).Sub(clk.Now())
	timer := clk.NewTimer(max(first, 0))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
		timer.Reset(period)
		if w.result.Kind != Startup && !w.m.Started(w.c.Target.ContainerID, w.c.Spec) {
			continue // startup gates liveness and readiness
		}
		warning, err := w.probeOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrNotRun) {
			w.warn(err.Error()) // thrown away: neither a success nor a failure
			continue
		}
		if done := w.publish(warning, err); done {
			return
		}
	}
}

// probeOnce runs the probe, again at once while it could not be run, at
// most maxProbeRetries times in all.
func (w *worker) probeOnce(ctx context.Context) (warning string, err error) {
	p := w.probe
	for range maxProbeRetries {
		warning, err = w.m.runner.Probe(ctx, &p.ProbeHandler, w.c.Target, time.Duration(p.TimeoutSeconds)*time.Second)
		if !errors.Is(err, ErrNotRun) || ctx.Err() != nil {
			break
		}
	}
	return warning, err
}

// started is when the container started, as the runtime's ContainerStatus
// says (Created when Config.Status is nil or the runtime has no start
// time): the kubelet counts initialDelaySeconds from it. While the runtime
// does not answer, it asks again every period; false means ctx ended first.
func (w *worker) started(ctx context.Context, period time.Duration) (time.Time, bool) {
	if w.m.cfg.Status == nil {
		return w.c.Created, true
	}
	for {
		st, err := w.m.cfg.Status.ContainerStatus(ctx, w.c.Target.ContainerID)
		if err == nil {
			if st.GetStartedAt() == 0 {
				return w.c.Created, true
			}
			return time.Unix(0, st.GetStartedAt()), true
		}
		w.m.cfg.Log.Debug("probe waits for the container's start time", "pod", w.c.Pod, "container", w.c.Spec.Name, "err", err)
		select {
		case <-ctx.Done():
			return time.Time{}, false
		case <-w.m.cfg.Clock.After(max(period, time.Second)):
		}
	}
}

// warningInterval is the least time between two warnings of one probe: a
// container that changes its answer at every probe (a redirect to another
// place each time) gets one event and one log line a minute, not one per
// probe.
const warningInterval = time.Minute

// publish records one probe's outcome and tells the owner what changed. It
// reports whether the worker is done.
func (w *worker) publish(warning string, err error) bool {
	w.warn(warning)
	if err == nil {
		w.successes, w.failures = w.successes+1, 0
	} else {
		w.successes, w.failures = 0, w.failures+1
	}
	p := w.probe
	w.m.mu.Lock()
	r := &w.result
	before := r.OK
	r.Last, r.ConsecutiveFailures, r.Success, r.Message = w.m.cfg.Clock.Now(), w.failures, err == nil, warning
	if err != nil {
		r.Message = err.Error()
	}
	switch {
	case err == nil && w.successes >= p.SuccessThreshold:
		r.OK = true
	case err != nil && w.failures >= p.FailureThreshold:
		r.OK = false
		r.Failed = r.Kind != Readiness
	}
	changed, failed, started := before != r.OK, r.Failed, r.Kind == Startup && r.OK
	w.m.mu.Unlock()
	if changed || failed {
		w.m.cfg.OnChange()
	}
	// A startup probe stops once it succeeded; its verdict stays.
	return failed || started
}

// warn reports a probe's warning (bounded by the runner) when it differs
// from the last one reported, at most once per warningInterval; a probe
// without a warning clears the last one.
func (w *worker) warn(warning string) {
	if warning == "" {
		w.warning = ""
		return
	}
	now := w.m.cfg.Clock.Now()
	if warning == w.warning || (!w.warnedAt.IsZero() && now.Sub(w.warnedAt) < warningInterval) {
		return
	}
	w.warning, w.warnedAt = warning, now
	w.m.cfg.Log.Warn(w.result.Kind.String()+" probe warning", "pod", w.c.Pod, "container", w.c.Spec.Name, "warning", warning)
	w.m.cfg.OnWarning(Warning{Pod: w.c.Pod, Container: w.c.Spec.Name, Kind: w.result.Kind, Message: warning})
}
