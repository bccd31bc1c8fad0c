package sync

import (
	"context"
	"log/slog"
	"sort"
	stdsync "sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/podfs"
	"github.com/bosun-sh/bosun/prober"
)

// Loop keeps what runs equal to what the manifests say. Each sync
// observes the runtime, plans every pod (a pure function) and applies the
// plans, one goroutine per pod that is not busy.
type Loop struct {
	cfg     Config
	rt      Runtime
	log     *slog.Logger
	clk     Clock
	backoff backoffPolicy
	fs      *podfs.FS
	logs    *podfs.Logs
	hooks   prober.Runner
	probes  *prober.Manager

	wake    chan struct{}
	actions stdsync.WaitGroup
	// fetches counts the ContainerStatus calls in flight (exits.go).
	fetches stdsync.WaitGroup

	// mu guards what follows; it is never held across I/O.
	mu   stdsync.Mutex
	pods map[podKey]*podState
	// files holds the message last reported per manifest file (a load
	// error or a conflict), so each is reported once.
	files map[string]string
	// manifestErrs holds the load error reported per manifest file.
	manifestErrs map[string]string
	cgroupWarned bool
	synced       bool
	rtDown       bool
	srcDown      bool
	lastAttempt  time.Time
	// takingOver is set while a kubelet's pod is being taken over.
	takingOver bool
	// creating counts the plans in flight that create a pod.
	creating int
	// view is the status of the last sync; it is replaced, never changed.
	view *view
	// uids maps each UID to the pods that had it at the last sync (desired
	// or observed): a pod's directory and cgroup go only with the last one.
	uids map[string][]string
}

// view is what the last sync saw, for the readers of the Loop.
type view struct {
	pods      []PodStatus
	manifests []ManifestStatus
}

// Run syncs until ctx ends, then waits for every goroutine it started
// (event watch, log maintenance, probe workers, running actions). It never
// stops pods on its way out.
func (l *Loop) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { l.watchRuntime(gctx); return nil })
	g.Go(func() error { l.runLogMaintenance(gctx); return nil })
	g.Go(func() error { l.syncUntilDone(gctx); return nil })
	err := g.Wait()
	l.actions.Wait()
	l.fetches.Wait()
	l.probes.Wait()
	return err
}

// syncUntilDone syncs whenever woken, when a sync asked to look again, and
// every SyncFrequency, until ctx ends.
func (l *Loop) syncUntilDone(ctx context.Context) {
	period := l.clk.NewTicker(l.cfg.SyncFrequency)
	defer period.Stop()
	timer := l.clk.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := l.SyncOnce(ctx)
		d := time.Hour
		if !next.IsZero() {
			d = max(next.Sub(l.clk.Now()), time.Millisecond)
		}
		if !timer.Stop() {
			select {
			case <-timer.C():
			default:
			}
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-timer.C():
		case <-period.C():
		}
	}
}

// Wait blocks until every action started by SyncOnce has returned.
func (l *Loop) Wait() { l.actions.Wait() }

// Wake asks for a sync soon. It never blocks.
func (l *Loop) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// SyncOnce observes the runtime, plans every pod and starts the actions of
// the pods that are not busy, each in its own goroutine. It returns when the
// loop should look again at the latest (zero: on the next event).
func (l *Loop) SyncOnce(ctx context.Context) time.Time {
	start := l.clk.Now()
	l.mu.Lock()
	l.lastAttempt = start
	l.mu.Unlock()
	snap := l.cfg.Source.Snapshot()
	desired, observed, err := l.observeAll(ctx, snap)
	if err != nil {
		l.runtimeDown(err)
		return start.Add(time.Second)
	}
	status, plans, next := l.planAll(snap, desired, observed, start)
	l.launch(ctx, plans)
	l.publish(status, start, len(desired), len(observed))
	return next
}

// observeAll observes the runtime and the desired set, and completes what
// was observed: sandbox IPs, termination messages, probe verdicts.
func (l *Loop) observeAll(ctx context.Context, snap manifest.Snapshot) (map[string]*manifest.StaticPod, map[string]*observedPod, error) {
	observed, err := l.observe(ctx)
	if err != nil {
		return nil, nil, err
	}
	l.runtimeUp()
	l.sourceState(snap)
	desired := l.desiredSet(ctx, snap, observed)
	if err := l.observeKubelet(ctx, desired, observed); err != nil {
		return nil, nil, err
	}
	l.lookUpIPs(ctx, desired, observed)
	l.noteStarts(desired, observed)
	l.readMessages(desired, observed)
	l.syncProbes(ctx, desired, observed)
	return desired, observed, nil
}

// planAll computes, without the loop's lock, the status of every pod and
// the plans of those that are neither busy, nor waiting for a retry, nor
// missing an exit; next is when to look again.
func (l *Loop) planAll(snap manifest.Snapshot, desired map[string]*manifest.StaticPod, observed map[string]*observedPod, now time.Time) (status []PodStatus, plans []podPlan, next time.Time) {
	keys := podKeys(desired, observed, l.cfg.TakeOver)
	memos := l.memos(keys)
	prev := l.Pods()
	status = make([]PodStatus, 0, len(keys))
	for _, key := range keys {
		in := l.statusInput(snap, key, desired[key], observed[key], memos[key], now)
		if obs := observed[key]; obs != nil && obs.incomplete {
			// An exit is not known yet: the pod waits, its status stays.
			status = append(status, statusOf(prev, key, in))
			continue
		}
		status = append(status, podStatus(in))
		p, wait := l.planPod(in, memos[key])
		next = earliest(next, wait)
		if !p.empty() {
			plans = append(plans, p)
		}
	}
	return status, plans, next
}

// publish makes status what the loop's readers see, reports how long the
// sync took and, after the first one, tells Config.OnFirstSync.
func (l *Loop) publish(status []PodStatus, start time.Time, desired, observed int) {
	l.mu.Lock()
	l.view = &view{pods: status, manifests: l.view.manifests}
	first := !l.synced
	l.synced = true
	l.mu.Unlock()
	if l.cfg.OnSync != nil {
		l.cfg.OnSync(l.clk.Since(start))
	}
	if first {
		if l.cfg.OnFirstSync != nil {
			l.cfg.OnFirstSync()
		}
		l.log.Info("first sync done", "pods", desired, "observed", observed, "duration", l.clk.Since(start))
	}
}

// planPod plans one pod unless it is busy, was applied after this sync's
// observation began (in.now), or waits for the retry of a failed sync; it
// returns the plan and when to look again.
func (l *Loop) planPod(in statusInput, m podMemo) (podPlan, time.Time) {
	l.trackPostStart(in, m.busy)
	if m.busy || m.appliedAt.After(in.now) {
		return podPlan{}, time.Time{}
	}
	if m.syncErr != nil && m.retry.After(in.now) {
		return podPlan{}, m.retry
	}
	p := plan(in.key, in.desired, in.obs, in.protected, planEnv{now: in.now, backoff: l.backoff, state: m})
	return p, p.wait
}

// launch marks the pods of plans busy and applies each plan in its own
// goroutine; a take-over waits while another one runs, a creation while
// Config.MaxCreations are in flight (the one that ends wakes the loop).
func (l *Loop) launch(ctx context.Context, plans []podPlan) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range plans {
		if len(p.takeOver) > 0 {
			if l.takingOver {
				continue // one pod at a time; the one in flight wakes the loop
			}
			l.takingOver = true
		}
		if p.creation() {
			if l.creating >= l.cfg.MaxCreations {
				continue
			}
			l.creating++
		}
		l.state(podKey(p.key)).busy = true
		l.actions.Add(1)
		go l.apply(ctx, p)
	}
}

// memos copies the state of the pods of keys, and forgets the state of
// pods no longer desired nor observed.
func (l *Loop) memos(keys []string) map[string]podMemo {
	out := make(map[string]podMemo, len(keys))
	l.mu.Lock()
	defer l.mu.Unlock()
	live := map[podKey]bool{}
	for _, k := range keys {
		live[podKey(k)] = true
		out[k] = l.pods[podKey(k)].memo()
	}
	for k, s := range l.pods {
		if !live[k] && s.idle() {
			delete(l.pods, k)
		}
	}
	return out
}

// podKeys lists the keys of desired and observed pods, sorted (etcd first
// when taking over a kubelet's pods).
func podKeys(desired map[string]*manifest.StaticPod, observed map[string]*observedPod, takeOver bool) []string {
	keys := make([]string, 0, len(desired)+len(observed))
	for k := range desired {
		keys = append(keys, k)
	}
	for k := range observed {
		if _, ok := desired[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if takeOver {
		takeOverFirst(keys)
	}
	return keys
}

// statusOf is the status of pod key in prev, or computed from in when prev
// has none.
func statusOf(prev []PodStatus, key string, in statusInput) PodStatus {
	for _, st := range prev {
		if st.Key() == key {
			return st
		}
	}
	return podStatus(in)
}

// earliest is the earlier of two times, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
