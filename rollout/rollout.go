package rollout

import (
	"fmt"
	"log/slog"
	stdsync "sync"
	"time"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/sync"
)

// Clock gives the time and timers; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once after d; the returned function cancels it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// Loop is what Rollout reads from and asks of the sync loop.
type Loop interface {
	// Pods is the status of every pod as of the loop's last sync.
	Pods() []sync.PodStatus
	// Wake asks for a sync soon, without blocking.
	Wake()
	History() *sync.History
}

// Config configures a Rollout.
type Config struct {
	// Source is the manifest source whose snapshots Rollout passes on.
	Source sync.Source
	// RootDir is bosun's state directory (--root-dir): rollout.json is
	// kept there. It must be owned by bosun's user and not writable by
	// group or others.
	RootDir string
	// All enables rollback for every pod (--rollback-on-failure); a pod's
	// bosun.dev/rollback annotation wins.
	All   bool
	Log   *slog.Logger
	Clock Clock
	// OnRollback, if set, is told of each rollback (the metric).
	OnRollback func(Reason)
}

// Rollout is a sync.Source that hands the loop, for a pod whose new version
// failed, the last version that was Ready.
type Rollout struct {
	cfg   Config
	log   *slog.Logger
	clk   Clock
	store *store

	// saveMu orders the writes of the state file.
	saveMu stdsync.Mutex
	mu     stdsync.Mutex
	loop   Loop
	recs   map[string]*record
	// watched holds the pods whose file version the last Snapshot found
	// progressing: check looks at their status between syncs.
	watched []string
	// warned holds, per pod, the hash of the version whose malformed
	// annotations were reported, so each is reported once.
	warned    map[string]string
	stopTimer func() bool
	timerAt   time.Time
}

var _ sync.Source = (*Rollout)(nil)

// New opens the state in cfg.RootDir and returns a Rollout over
// cfg.Source. Watch must be called before the loop runs. A root dir that
// others may write is an error; a state file that cannot be read is logged
// and replaced at the next change.
func New(cfg Config) (*Rollout, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	st, err := openStore(cfg.RootDir)
	if err != nil {
		return nil, err
	}
	loaded, err := st.load()
	if err != nil {
		// Not worth keeping the pods from being run: start without history.
		cfg.Log.Error("rollout state unreadable: the last Ready versions are forgotten", "err", err)
		loaded = nil
	}
	r := &Rollout{cfg: cfg, log: cfg.Log, clk: cfg.Clock, store: st, recs: map[string]*record{}, warned: map[string]string{}}
	for key, rec := range loaded {
		r.recs[key] = &rec
	}
	return r, nil
}

// Close stops the timer and closes the state directory.
func (r *Rollout) Close() error {
	r.mu.Lock()
	if r.stopTimer != nil {
		r.stopTimer()
	}
	r.mu.Unlock()
	return r.store.Close()
}

// Watch makes r read the loop's status, wake it at deadlines and record
// events in its history. Before Watch, Snapshot passes the source's on.
func (r *Rollout) Watch(l Loop) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loop = l
}

// transition is what one decision changed that the world hears of.
type transition struct {
	key, file string
	from, to  record
}

// Snapshot returns the source's snapshot with, for each pod whose file
// version was rolled back, the last Ready version instead (same key).
func (r *Rollout) Snapshot() manifest.Snapshot {
	snap := r.cfg.Source.Snapshot()
	r.mu.Lock()
	loop := r.loop
	r.mu.Unlock()
	if loop == nil {
		return snap
	}
	status := map[string]*sync.PodStatus{}
	pods := loop.Pods()
	for i := range pods {
		status[pods[i].Key()] = &pods[i]
	}
	perKey := map[string]int{}
	for _, p := range snap.Pods {
		perKey[p.Key()]++
	}

	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	now := r.clk.Now()
	r.mu.Lock()
	var (
		changes []transition
		warns   []error
		wake    time.Time
		dirty   bool
		watched []string
	)
	out := make([]*manifest.StaticPod, len(snap.Pods))
	for i, p := range snap.Pods {
		out[i] = p
		key := p.Key()
		if perKey[key] > 1 {
			continue // two files for one pod: the loop picks one, nothing is rolled back
		}
		pol, err := policyOf(p, r.cfg.All)
		if err != nil && r.warned[key] != p.Hash {
			r.warned[key] = p.Hash
			warns = append(warns, err)
		}
		prev := record{}
		if rec := r.recs[key]; rec != nil {
			prev = *rec
		}
		next, run, w := decide(prev, p, status[key], pol, now)
		r.recs[key] = &next
		out[i] = run
		wake = earliest(wake, w)
		if next.phase == PhaseProgressing {
			watched = append(watched, key)
			wake = earliest(wake, now.Add(recheck))
		}
		if kept(prev) != kept(next) {
			dirty = true
		}
		if prev.phase != next.phase || prev.hash != next.hash {
			changes = append(changes, transition{key: key, file: p.File, from: prev, to: next})
		}
	}
	if snap.Available {
		for key := range r.recs {
			if perKey[key] == 0 {
				delete(r.recs, key)
				delete(r.warned, key)
				dirty = true
			}
		}
	}
	var data []byte
	var encErr error
	if dirty {
		data, encErr = encode(r.recs)
	}
	r.watched = watched
	r.arm(wake, now, loop)
	r.mu.Unlock()

	for _, err := range warns {
		r.log.Warn("rollout annotation ignored", "err", err)
	}
	switch {
	case encErr != nil:
		r.log.Error("rollout state not saved", "err", encErr)
	case data != nil:
		if err := r.store.save(data); err != nil {
			r.log.Error("rollout state not saved; a restart of bosun forgets the last Ready versions", "err", err)
		}
	}
	for _, c := range changes {
		r.report(loop.History(), c, now)
	}
	snap.Pods = out
	return snap
}

// kept is the part of a record that the state file holds.
type keptRecord struct {
	lastReady, hash string
	phase           Phase
}

func kept(r record) keptRecord {
	k := keptRecord{hash: r.hash, phase: r.phase}
	if r.lastReady != nil {
		k.lastReady = r.lastReady.Hash
	}
	return k
}

// recheck is how often, while a pod's file version progresses, Rollout
// looks at the loop's status between syncs. A sync decides on the status
// that the sync before it published, and nothing may wake the loop after
// the sync that saw the version Ready: without a look in between, the
// version would be complete only at the next sync for another reason,
// often its deadline.
const recheck = 500 * time.Millisecond

// earliest is the earlier of a and b, a zero time being none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// arm sets the timer that checks the watched pods at wake (zero: none);
// the caller holds r.mu.
func (r *Rollout) arm(wake, now time.Time, loop Loop) {
	if wake.Equal(r.timerAt) {
		return
	}
	if r.stopTimer != nil {
		r.stopTimer()
		r.stopTimer = nil
	}
	r.timerAt = wake
	if wake.IsZero() {
		return
	}
	r.stopTimer = r.clk.AfterFunc(max(wake.Sub(now), 0), func() { r.check(wake, loop) })
}

// check is the timer armed for at: it wakes the loop when the loop's
// latest status, at the clock's time, changes the phase of a watched pod,
// so that the next Snapshot decides it; else it arms the timer again. A
// Snapshot since the timer was armed supersedes it.
func (r *Rollout) check(at time.Time, loop Loop) {
	pods := loop.Pods()
	now := r.clk.Now()
	r.mu.Lock()
	if !r.timerAt.Equal(at) {
		r.mu.Unlock()
		return
	}
	r.timerAt, r.stopTimer = time.Time{}, nil
	due, next := r.due(pods, now)
	if !due {
		r.arm(next, now, loop)
	}
	r.mu.Unlock()
	if due {
		loop.Wake()
	}
}

// due reports whether status changes the phase of a watched pod at now,
// and else when to check again (zero: never); the caller holds r.mu.
func (r *Rollout) due(status []sync.PodStatus, now time.Time) (bool, time.Time) {
	byKey := make(map[string]*sync.PodStatus, len(status))
	for i := range status {
		byKey[status[i].Key()] = &status[i]
	}
	var next time.Time
	for _, key := range r.watched {
		rec := r.recs[key]
		if rec == nil || rec.version == nil || rec.phase != PhaseProgressing {
			continue
		}
		got, _, wake := decide(*rec, rec.version, byKey[key], rec.pol, now)
		if got.phase != rec.phase {
			return true, time.Time{}
		}
		next = earliest(earliest(next, wake), now.Add(recheck))
	}
	return false, next
}

// report logs a change of phase, records its event and counts a rollback.
func (r *Rollout) report(h *sync.History, c transition, now time.Time) {
	to := c.to
	var ev sync.Event
	switch {
	case to.phase == PhaseRolledBack:
		msg := fmt.Sprintf("version %s rolled back to %s: %s: %s", to.hash, to.lastReady.Hash, to.reason, to.message)
		r.log.Warn("rolled back", "pod", c.key, "file", c.file, "hash", to.hash, "to", to.lastReady.Hash, "reason", to.reason, "message", to.message)
		ev = sync.Event{Type: EventRolledBack, Message: msg}
		if r.cfg.OnRollback != nil {
			r.cfg.OnRollback(to.reason)
		}
	case to.phase == PhaseFailed:
		why := "rollback is not enabled"
		if to.lastReady == nil {
			why = "no earlier version was Ready"
		}
		msg := fmt.Sprintf("version %s failed: %s: %s; it keeps running (%s)", to.hash, to.reason, to.message, why)
		r.log.Warn("rollout failed", "pod", c.key, "file", c.file, "hash", to.hash, "reason", to.reason, "message", to.message)
		ev = sync.Event{Type: EventRolloutFailed, Message: msg}
	case to.phase == PhaseComplete && c.from.lastReady != nil && c.from.lastReady.Hash != to.hash:
		r.log.Info("rollout complete", "pod", c.key, "file", c.file, "hash", to.hash)
		ev = sync.Event{Type: EventRolloutComplete, Message: fmt.Sprintf("version %s is Ready", to.hash)}
	default:
		return
	}
	if h != nil {
		ev.Time, ev.Pod, ev.File = now, c.key, c.file
		h.Add(ev)
	}
}

// Status is where one pod's rollout stands.
type Status struct {
	Phase   Phase
	Reason  Reason
	Message string
	// FileHash is the manifest file's version, LastReadyHash the last
	// version that was Ready ("" when none is known).
	FileHash, LastReadyHash string
	RollbackEnabled         bool
	ProgressDeadline        time.Duration
	// Started is when the progress window of FileHash started (zero while
	// it has not), Deadline when it ends.
	Started, Deadline time.Time
	// Since is when Phase was entered.
	Since time.Time
}

// Versions returns the last Ready version of each pod, the versions
// Rollout may run instead of the files. It only reads: unlike Snapshot, it
// decides nothing, so other readers (image garbage collection) cannot
// take a decision the loop must see.
func (r *Rollout) Versions() []*manifest.StaticPod {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*manifest.StaticPod, 0, len(r.recs))
	for _, rec := range r.recs {
		if rec.lastReady != nil {
			out = append(out, rec.lastReady)
		}
	}
	return out
}

// Status returns the rollout of the pod key ("namespace/name"), false
// when Rollout has not seen its manifest.
func (r *Rollout) Status(key string) (Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.recs[key]
	if !ok || rec.hash == "" {
		return Status{}, false
	}
	pol := rec.pol
	st := Status{Phase: rec.phase, Reason: rec.reason, Message: rec.message, FileHash: rec.hash,
		RollbackEnabled: pol.rollback, ProgressDeadline: pol.deadline, Started: rec.started, Since: rec.since}
	if rec.lastReady != nil {
		st.LastReadyHash = rec.lastReady.Hash
	}
	if !rec.started.IsZero() {
		st.Deadline = rec.started.Add(pol.deadline)
	}
	return st, true
}
