package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	stdsync "sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
)

// Clock gives the time; tests inject a fake one.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Config configures a Loop.
type Config struct {
	Runtime Runtime
	Source  Source
	Log     *slog.Logger
	Clock   Clock
	// Node describes the node and bosun's directories for translation.
	Node runtime.Node
	// SyncFrequency is the period of the full relist safety net.
	SyncFrequency time.Duration
	// RelistPeriod is how often containers are relisted when the runtime
	// offers no container events.
	RelistPeriod time.Duration
	// BackoffInitial, BackoffMax and BackoffReset shape CrashLoopBackOff.
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	BackoffReset   time.Duration
	// History receives bosun's events; nil makes a new one.
	History *History
	// OnSync, if set, is told how long each sync that reached the runtime took.
	OnSync func(time.Duration)
	// LogMaxSize is the size past which a container log is rotated (0: never);
	// LogMaxFiles is how many files of a log are kept, the current one
	// included (at least 2).
	LogMaxSize  int64
	LogMaxFiles int
	// LogLinksDir, if set, gets the kubelet's link to each container's log
	// (/var/log/containers, where log collectors look).
	LogLinksDir string
	// TakeOver makes bosun stop and remove a kubelet's static pod of the
	// same name as a manifest's just before it starts its own, one pod at a
	// time, etcd first.
	TakeOver bool
	// OnFirstSync, if set, is called once, when the first sync is done.
	OnFirstSync func()
	// PodCgroupRoot, if set, is the cgroupfs mount (/sys/fs/cgroup) below
	// which bosun writes each pod's cgroup limits (cgroupfs driver only).
	PodCgroupRoot string
}

// Loop keeps what runs equal to what the manifests say.
type Loop struct {
	cfg Config
	rt  Runtime
	log *slog.Logger
	clk Clock

	wake   chan struct{}
	wg     stdsync.WaitGroup
	prober *prober

	mu          stdsync.Mutex
	busy        map[string]bool
	statusCache map[string]*runtimeapi.ContainerStatus
	backoff     *backoff
	// podErr holds the last error and the retry time of pods whose sync failed.
	podErr map[string]podError
	// reported holds messages already logged, so each is logged once.
	reported map[string]string
	synced   bool
	rtDown   bool
	srcDown  bool
	// carried holds, per "uid/container", what a dead sandbox left of a
	// container (its restart count, which the replacement continues).
	carried map[string]carriedContainer
	// finished holds the IDs of dead sandboxes of finished pods that were
	// stopped and are kept.
	finished map[string]bool
	// ips caches the IP of each pod-network sandbox.
	ips         map[string]string
	lastAttempt time.Time
	status      []PodStatus
	manifests   []ManifestStatus
	// takingOver is set while a kubelet's pod is being taken over.
	takingOver bool
}

type podError struct {
	err   error
	retry time.Time
}

// New returns a Loop for cfg.
func New(cfg Config) *Loop {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.SyncFrequency <= 0 {
		cfg.SyncFrequency = time.Minute
	}
	if cfg.RelistPeriod <= 0 {
		cfg.RelistPeriod = time.Second
	}
	if cfg.BackoffInitial <= 0 {
		cfg.BackoffInitial = 10 * time.Second
	}
	if cfg.BackoffMax < cfg.BackoffInitial {
		cfg.BackoffMax = max(cfg.BackoffInitial, 300*time.Second)
	}
	if cfg.BackoffReset <= 0 {
		cfg.BackoffReset = 2 * cfg.BackoffMax
	}
	if cfg.History == nil {
		cfg.History = NewHistory()
	}
	if cfg.LogMaxFiles < 2 {
		cfg.LogMaxFiles = 2
	}
	l := &Loop{
		cfg:         cfg,
		rt:          cfg.Runtime,
		log:         cfg.Log,
		clk:         cfg.Clock,
		wake:        make(chan struct{}, 1),
		busy:        map[string]bool{},
		statusCache: map[string]*runtimeapi.ContainerStatus{},
		backoff:     newBackoff(cfg.BackoffInitial, cfg.BackoffMax, cfg.BackoffReset),
		podErr:      map[string]podError{},
		reported:    map[string]string{},
		ips:         map[string]string{},
		carried:     map[string]carriedContainer{},
		finished:    map[string]bool{},
	}
	l.prober = newProber(l)
	return l
}

// carriedOf reads what a dead sandbox left of a container; the caller
// holds l.mu.
func (l *Loop) carriedOf(uid, name string) (carriedContainer, bool) {
	c, ok := l.carried[uid+"/"+name]
	return c, ok
}

// stopped reports whether the dead sandbox id of a finished pod was
// stopped; the caller holds l.mu.
func (l *Loop) stopped(id string) bool { return l.finished[id] }

// History returns the loop's event history.
func (l *Loop) History() *History { return l.cfg.History }

func (l *Loop) event(e Event) {
	if e.Time.IsZero() {
		e.Time = l.clk.Now()
	}
	l.cfg.History.Add(e)
}

// Pods returns the status of every pod as of the last sync, by key.
func (l *Loop) Pods() []PodStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]PodStatus(nil), l.status...)
}

// Manifests returns the manifest files that do not load and the directory
// entries that are not read, sorted by file.
func (l *Loop) Manifests() []ManifestStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ManifestStatus(nil), l.manifests...)
}

// Ready reports whether the first sync is done and the runtime answers.
func (l *Loop) Ready() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.synced && !l.rtDown
}

// Alive reports whether the loop tried a sync within d: it keeps trying
// every second while the runtime is down.
func (l *Loop) Alive(d time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.lastAttempt.IsZero() && l.clk.Now().Sub(l.lastAttempt) <= d
}

// Wake asks for a sync soon. It never blocks.
func (l *Loop) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Run syncs until ctx ends, then waits for running actions to return. It
// never stops pods on its way out.
func (l *Loop) Run(ctx context.Context) error {
	go l.watchRuntime(ctx)
	go l.runLogMaintenance(ctx)
	period := time.NewTicker(l.cfg.SyncFrequency)
	defer period.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := l.SyncOnce(ctx)
		timer.Reset(time.Hour)
		if !next.IsZero() {
			timer.Reset(max(next.Sub(l.clk.Now()), time.Millisecond))
		}
		select {
		case <-ctx.Done():
			l.wg.Wait()
			return nil
		case <-l.wake:
		case <-timer.C:
		case <-period.C:
		}
	}
}

// Wait blocks until every action started by SyncOnce has returned.
func (l *Loop) Wait() { l.wg.Wait() }

// Synced reports whether one full sync has been done.
func (l *Loop) Synced() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.synced
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
	observed, err := l.observe(ctx)
	if err != nil {
		l.runtimeDown(err)
		return start.Add(time.Second)
	}
	l.runtimeUp()
	l.sourceState(snap)
	desired := l.desiredSet(ctx, snap, observed)
	if err := l.observeKubelet(ctx, desired, observed); err != nil {
		l.runtimeDown(err)
		return start.Add(time.Second)
	}
	l.lookUpIPs(ctx, desired, observed)
	l.prober.sync(ctx, desired, observed)
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
	if l.cfg.TakeOver {
		takeOverFirst(keys)
	}

	var next time.Time
	later := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	status := make([]PodStatus, 0, len(keys))
	for _, key := range keys {
		protected := l.protected(snap, observed[key])
		status = append(status, podStatus(statusInput{
			key: key, desired: desired[key], obs: observed[key], syncErr: l.podErr[key].err, syncRetry: l.podErr[key].retry, protected: protected,
			manErr: l.manifestError(snap, desired[key], observed[key]), ready: l.backoff.readyAt, now: start,
			podLogsDir: l.cfg.Node.PodLogsDir, ips: l.ips, nodeIP: l.cfg.Node.HostIP, probes: l.prober.status,
			termMessage: l.terminationMessage, finished: l.finished,
		}))
		if l.busy[key] {
			continue
		}
		if pe, ok := l.podErr[key]; ok && pe.retry.After(start) {
			later(pe.retry)
			continue
		}
		p := plan(key, desired[key], observed[key], protected, planEnv{ready: l.backoff.readyAt, started: l.prober.started, carried: l.carriedOf, stopped: l.stopped, now: start})
		later(p.wait)
		if p.empty() {
			continue
		}
		if len(p.takeOver) > 0 {
			if l.takingOver {
				continue // one pod at a time; the one in flight wakes the loop
			}
			l.takingOver = true
		}
		l.busy[key] = true
		l.wg.Add(1)
		go l.apply(ctx, p)
	}
	l.status = status
	if l.cfg.OnSync != nil {
		l.cfg.OnSync(l.clk.Now().Sub(start))
	}
	if !l.synced {
		l.synced = true
		if l.cfg.OnFirstSync != nil {
			go l.cfg.OnFirstSync()
		}
		l.log.Info("first sync done", "pods", len(desired), "observed", len(observed), "duration", l.clk.Now().Sub(start))
	}
	return next
}

// apply carries out one pod's plan and wakes the loop when done.
func (l *Loop) apply(ctx context.Context, p podPlan) {
	defer l.wg.Done()
	err := l.execute(ctx, p)
	l.mu.Lock()
	delete(l.busy, p.key)
	if len(p.takeOver) > 0 {
		l.takingOver = false
	}
	if err != nil && ctx.Err() == nil {
		// The first retry is at once, then with the crash loop backoff.
		k := "pod:" + p.key
		delay := l.backoff.delay(k)
		l.backoff.next(k)
		l.podErr[p.key] = podError{err: err, retry: l.clk.Now().Add(delay)}
		l.log.Error("pod sync failed", "pod", p.key, "retry_in", delay, "err", err)
		l.event(Event{Type: EventSyncFailed, Pod: p.key, Message: err.Error()})
	} else if err == nil {
		delete(l.podErr, p.key)
		l.backoff.forget("pod:" + p.key)
	}
	l.mu.Unlock()
	l.Wake()
}

// execute runs a plan's steps in order.
func (l *Loop) execute(ctx context.Context, p podPlan) error {
	if err := l.takeOver(ctx, p); err != nil {
		return err
	}
	if p.desired != nil && len(p.kill) > 0 && p.create {
		if err := l.replace(ctx, p); err != nil {
			return err
		}
	} else {
		for _, s := range p.kill {
			if err := l.killSandbox(ctx, s, reasonFor(p.desired, s)); err != nil {
				return err
			}
		}
	}
	if p.finish != nil {
		return l.finishSandbox(ctx, p.key, p.finish)
	}
	sandboxID, podIP := "", ""
	var sandboxCfg *runtimeapi.PodSandboxConfig
	if p.create {
		var err error
		sandboxID, sandboxCfg, podIP, err = l.createSandbox(ctx, p.desired, p.attempt)
		if err != nil {
			return err
		}
		l.mu.Lock()
		for name, rc := range p.carried {
			l.carried[p.desired.UID+"/"+name] = rc
		}
		l.mu.Unlock()
	} else if p.sandbox != nil {
		sandboxID, podIP = p.sandbox.sb.Id, l.podIP(p.sandbox.sb.Id)
		sandboxCfg = runtime.SandboxConfig(p.desired, p.sandbox.attempt(), l.cfg.Node, l.clk.Now())
	}
	var errs []error
	if len(p.stop) > 0 {
		l.log.Info("pod ran past its activeDeadlineSeconds; stopping it", "pod", p.key)
		l.event(Event{Type: EventContainerKilled, Pod: p.key, Message: "DeadlineExceeded: the pod ran past its activeDeadlineSeconds"})
		end := time.Now().Add(time.Duration(gracePeriodOf(p.desired.Pod)) * time.Second)
		if err := l.stopContainers(ctx, p.key, p.stop, podIP, end); err != nil {
			errs = append(errs, err)
		}
	}
	for _, id := range p.startCreated {
		if err := l.rt.StartContainer(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", p.key, err))
		}
	}
	started := map[string]uint32{}
	for _, s := range p.starts {
		if err := l.startContainer(ctx, p.desired, sandboxID, sandboxCfg, podIP, s); err != nil {
			errs = append(errs, err)
			continue
		}
		started[s.spec.Name] = s.restartCount
	}
	gone := map[string]bool{}
	for _, c := range p.removes {
		if err := l.rt.RemoveContainer(ctx, c.c.Id); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", p.key, err))
			continue
		}
		gone[c.c.Id] = true
	}
	if len(gone) > 0 {
		l.pruneLogs(p.sandbox, gone, started)
	}
	return errors.Join(errs...)
}

// desiredSet maps pod keys to the static pod that should run. When two files
// name the same pod, the one already running wins, else the lexically first;
// the conflict is logged once.
func (l *Loop) desiredSet(ctx context.Context, snap manifest.Snapshot, observed map[string]*observedPod) map[string]*manifest.StaticPod {
	out := map[string]*manifest.StaticPod{}
	for _, sp := range snap.Pods { // sorted by file
		key := sp.Key()
		prev, ok := out[key]
		if !ok {
			out[key] = sp
			continue
		}
		winner, loser := prev, sp
		if runs(observed[key], sp) && !runs(observed[key], prev) {
			winner, loser = sp, prev
		}
		out[key] = winner
		msg := fmt.Sprintf("manifest %s: pod %s is already defined by %s; ignored", loser.File, key, winner.File)
		if l.reportOnce(ctx, slog.LevelError, loser.File, msg) {
			l.event(Event{Type: EventManifestConflict, Pod: key, File: loser.File, Message: msg})
		}
	}
	return out
}

// runs reports whether a ready sandbox of sp's version exists.
func runs(obs *observedPod, sp *manifest.StaticPod) bool {
	if obs == nil {
		return false
	}
	for _, s := range obs.sandboxes {
		if s.ready() && s.uid() == sp.UID && s.hash() == sp.Hash {
			return true
		}
	}
	return false
}

// protected reports whether a pod no manifest asks for must keep running:
// the directory is unavailable, or the pod's manifest still exists but does
// not load (a broken file never stops its pod).
func (l *Loop) protected(snap manifest.Snapshot, obs *observedPod) bool {
	if !snap.Available {
		return true
	}
	if obs == nil {
		return false
	}
	for _, s := range obs.sandboxes {
		if _, broken := snap.Errors[s.manifest()]; broken {
			return true
		}
	}
	return false
}

// reportOnce logs msg at level unless it was the last message logged for
// key, and reports whether it did.
func (l *Loop) reportOnce(ctx context.Context, level slog.Level, key, msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reported[key] == msg {
		return false
	}
	l.reported[key] = msg
	l.log.Log(ctx, level, msg)
	return true
}

// sourceState records manifest errors and the directory's availability as
// events, once per content, and keeps them for Manifests.
func (l *Loop) sourceState(snap manifest.Snapshot) {
	var ms []ManifestStatus
	var rejected []Event
	l.mu.Lock()
	for file, err := range snap.Errors {
		ms = append(ms, ManifestStatus{File: file, Error: err.Error()})
		if l.reported["err:"+file] != err.Error() {
			l.reported["err:"+file] = err.Error()
			rejected = append(rejected, Event{Type: EventManifestRejected, File: file, Message: err.Error()})
		}
	}
	for k := range l.reported {
		if f, ok := strings.CutPrefix(k, "err:"); ok {
			if _, still := snap.Errors[f]; !still {
				delete(l.reported, k)
			}
		}
	}
	for file, why := range snap.Ignored {
		ms = append(ms, ManifestStatus{File: file, Ignored: why})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].File < ms[j].File })
	if !snap.Available && snap.Err != nil && !l.srcDown {
		rejected = append(rejected, Event{Type: EventManifestsUnreadable, Message: snap.Err.Error()})
	}
	l.manifests = ms
	l.srcDown = !snap.Available && snap.Err != nil
	l.mu.Unlock()
	for _, e := range rejected {
		l.event(e)
	}
}

// manifestError is the load error of the file a pod comes from.
func (l *Loop) manifestError(snap manifest.Snapshot, desired *manifest.StaticPod, obs *observedPod) error {
	if desired != nil {
		return snap.Errors[desired.File]
	}
	if obs != nil {
		for _, s := range obs.sandboxes {
			if err, ok := snap.Errors[s.manifest()]; ok {
				return err
			}
		}
	}
	return nil
}

// lookUpIPs asks the runtime once for the IP of every new ready sandbox of
// a pod-network pod.
func (l *Loop) lookUpIPs(ctx context.Context, desired map[string]*manifest.StaticPod, observed map[string]*observedPod) {
	live := map[string]bool{}
	for key, p := range observed {
		for _, s := range p.sandboxes {
			live[s.sb.Id] = true
			if !s.ready() {
				continue
			}
			if d := desired[key]; d != nil && d.Pod.Spec.HostNetwork {
				continue
			}
			l.mu.Lock()
			_, known := l.ips[s.sb.Id]
			l.mu.Unlock()
			if known {
				continue
			}
			st, err := l.rt.PodSandboxStatus(ctx, s.sb.Id)
			if err != nil {
				continue
			}
			l.mu.Lock()
			l.ips[s.sb.Id] = st.GetNetwork().GetIp()
			l.mu.Unlock()
		}
	}
	l.mu.Lock()
	for id := range l.ips {
		if !live[id] {
			delete(l.ips, id)
		}
	}
	for id := range l.finished {
		if !live[id] {
			delete(l.finished, id)
		}
	}
	l.mu.Unlock()
}

func (l *Loop) runtimeDown(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.rtDown {
		l.rtDown = true
		l.log.Error("container runtime unavailable; pods are left as they are", "err", err)
		l.cfg.History.Add(Event{Time: l.clk.Now(), Type: EventRuntimeUnavailable, Message: err.Error()})
	}
}

func (l *Loop) runtimeUp() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rtDown {
		l.rtDown = false
		l.log.Info("container runtime available again")
		l.cfg.History.Add(Event{Time: l.clk.Now(), Type: EventRuntimeAvailable})
	}
}
