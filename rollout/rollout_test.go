package rollout

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/sync"
)

type fakeSource struct{ snap manifest.Snapshot }

func (s *fakeSource) Snapshot() manifest.Snapshot {
	out := s.snap
	out.Pods = append([]*manifest.StaticPod(nil), s.snap.Pods...)
	return out
}

func (s *fakeSource) set(pods ...*manifest.StaticPod) {
	s.snap = manifest.Snapshot{Available: true, Pods: pods}
}

type fakeLoop struct {
	mu      stdsync.Mutex
	pods    []sync.PodStatus
	wakes   int
	history *sync.History
}

func (l *fakeLoop) Pods() []sync.PodStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sync.PodStatus(nil), l.pods...)
}

func (l *fakeLoop) Wake() { l.mu.Lock(); l.wakes++; l.mu.Unlock() }

func (l *fakeLoop) History() *sync.History { return l.history }

func (l *fakeLoop) set(st ...*sync.PodStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pods = nil
	for _, s := range st {
		l.pods = append(l.pods, *s)
	}
}

// fakeClock runs timers only when advanced.
type fakeClock struct {
	mu     stdsync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// advance moves the time on and fires the timers due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

type world struct {
	src   *fakeSource
	loop  *fakeLoop
	clk   *fakeClock
	dir   string
	rolls []Reason
}

func newWorld(t *testing.T) *world {
	dir := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return &world{src: &fakeSource{}, loop: &fakeLoop{history: sync.NewHistory()}, clk: &fakeClock{now: t0}, dir: dir}
}

// start makes a Rollout over the world, as a start of bosun does.
func (w *world) start(t *testing.T, all bool) *Rollout {
	t.Helper()
	r, err := New(Config{Source: w.src, RootDir: w.dir, All: all, Clock: w.clk, OnRollback: func(r Reason) { w.rolls = append(w.rolls, r) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	r.Watch(w.loop)
	return r
}

func only(t *testing.T, snap manifest.Snapshot) *manifest.StaticPod {
	t.Helper()
	if len(snap.Pods) != 1 {
		t.Fatalf("snapshot has %d pods, want 1", len(snap.Pods))
	}
	return snap.Pods[0]
}

func TestRollbackOfAFailedUpgradeSurvivesARestart(t *testing.T) {
	w := newWorld(t)
	old := version(t, `"v1"`, true, AnnotationProgressDeadline, "5s")
	bad := version(t, `"v2"`, true, AnnotationProgressDeadline, "5s")
	r := w.start(t, true)

	w.src.set(old)
	w.loop.set(running(old, t0.Add(-time.Minute), "Running", true, 0))
	if got := only(t, r.Snapshot()); got != old {
		t.Fatalf("runs %s, want the file's %s", got.Hash, old.Hash)
	}

	// The upgrade: the old version runs a moment longer, then the new one
	// starts and never gets Ready.
	w.src.set(bad)
	st := running(old, t0.Add(-time.Minute), "Running", true, 0)
	st.Hash = bad.Hash
	w.loop.set(st)
	if got := only(t, r.Snapshot()); got != bad {
		t.Fatalf("runs %s, want the new %s", got.Hash, bad.Hash)
	}
	w.loop.set(running(bad, w.clk.Now(), "Running", false, 0))
	only(t, r.Snapshot())
	if s, _ := r.Status(old.Key()); s.Phase != PhaseProgressing || !s.Deadline.Equal(t0.Add(5*time.Second)) || s.LastReadyHash != old.Hash || s.FileHash != bad.Hash {
		t.Fatalf("status %+v, want progressing until t0+5s from the last Ready %s", s, old.Hash)
	}
	w.clk.advance(4 * time.Second)
	if w.loop.wakes != 0 {
		t.Fatal("woken before the deadline")
	}
	w.clk.advance(time.Second)
	if w.loop.wakes != 1 {
		t.Fatalf("woken %d times at the deadline, want 1", w.loop.wakes)
	}
	if got := only(t, r.Snapshot()); got.Hash != old.Hash {
		t.Fatalf("runs %s after the deadline, want the last Ready %s", got.Hash, old.Hash)
	}
	s, _ := r.Status(old.Key())
	if s.Phase != PhaseRolledBack || s.Reason != ReasonDeadline || s.FileHash != bad.Hash || s.LastReadyHash != old.Hash {
		t.Fatalf("status %+v, want rolled back from %s to %s", s, bad.Hash, old.Hash)
	}
	if len(w.rolls) != 1 || w.rolls[0] != ReasonDeadline {
		t.Fatalf("rollbacks counted %v, want one %s", w.rolls, ReasonDeadline)
	}
	evs := w.loop.history.Since(time.Time{})
	if len(evs) != 1 || evs[0].Type != EventRolledBack || evs[0].Pod != old.Key() || evs[0].File != old.File ||
		!strings.Contains(evs[0].Message, "rolled back to "+old.Hash) || !strings.Contains(evs[0].Message, "readiness probe failed") {
		t.Fatalf("events %+v, want one RolledBack naming the pod, file, versions and the probe", evs)
	}

	// The rollback holds, also in a new bosun with the same root dir.
	w.loop.set(running(old, w.clk.Now(), "Running", true, 0))
	if got := only(t, r.Snapshot()); got.Hash != old.Hash {
		t.Fatalf("runs %s, want the rollback to hold", got.Hash)
	}
	r.Close()
	w2 := *w
	w2.loop = &fakeLoop{history: sync.NewHistory()}
	r2 := w2.start(t, true)
	got := only(t, r2.Snapshot())
	if got.Hash != old.Hash {
		t.Fatalf("after a restart runs %s, want the rolled back %s", got.Hash, old.Hash)
	}
	a, _ := json.Marshal(got.Pod)
	b, _ := json.Marshal(old.Pod)
	if string(a) != string(b) || got.UID != old.UID || got.File != old.File || got.Name != old.Name || got.Namespace != old.Namespace {
		t.Fatalf("the last Ready version read back differs:\n%+v\n%s\nwant\n%+v\n%s", got, a, old, b)
	}
	if s, _ := r2.Status(old.Key()); s.Phase != PhaseRolledBack || s.Reason != ReasonDeadline {
		t.Fatalf("status after a restart %+v, want rolled back", s)
	}
	if len(w2.loop.history.Since(time.Time{})) != 0 {
		t.Fatal("a restart recorded the rollback again")
	}

	// A later edit is tried.
	later := version(t, `"v3"`, true)
	w.src.set(later)
	if got := only(t, r2.Snapshot()); got != later {
		t.Fatalf("a later edit runs %s, want %s", got.Hash, later.Hash)
	}
	fi, err := os.Stat(filepath.Join(w.dir, stateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, mode %v, want 0600", err, fi.Mode())
	}
}

func TestCrashLoopRollsBackOnlyWhereEnabled(t *testing.T) {
	w := newWorld(t)
	r := w.start(t, false)
	old := version(t, `"v1"`, true)
	bad := version(t, `"v2"`, true)
	w.src.set(old)
	w.loop.set(running(old, t0, "Running", true, 0))
	r.Snapshot()
	w.src.set(bad)
	w.loop.set(running(bad, t0, "Waiting", false, 3))
	if got := only(t, r.Snapshot()); got != bad {
		t.Fatalf("without rollback enabled runs %s, want the file's %s", got.Hash, bad.Hash)
	}
	if s, _ := r.Status(bad.Key()); s.Phase != PhaseFailed || s.Reason != ReasonCrashLoop || s.RollbackEnabled {
		t.Fatalf("status %+v, want failed by CrashLoopBackOff, rollback not enabled", s)
	}
	evs := w.loop.history.Since(time.Time{})
	if len(evs) != 1 || evs[0].Type != EventRolloutFailed || !strings.Contains(evs[0].Message, "rollback is not enabled") {
		t.Fatalf("events %+v, want one RolloutFailed saying rollback is not enabled", evs)
	}

	// The same with the annotation.
	badOn := version(t, `"v2"`, true, AnnotationRollback, "true")
	w.src.set(badOn)
	w.loop.set(running(badOn, t0, "Waiting", false, 3))
	if got := only(t, r.Snapshot()); got != old {
		t.Fatalf("with the annotation runs %s, want the last Ready %s", got.Hash, old.Hash)
	}
	if len(w.rolls) != 1 || w.rolls[0] != ReasonCrashLoop {
		t.Fatalf("rollbacks counted %v, want one CrashLoopBackOff", w.rolls)
	}
}

func TestRemovedPodsAreForgotten(t *testing.T) {
	w := newWorld(t)
	r := w.start(t, true)
	old := version(t, `"v1"`, true)
	w.src.set(old)
	w.loop.set(running(old, t0, "Running", true, 0))
	r.Snapshot()
	w.src.snap = manifest.Snapshot{Available: false, Err: os.ErrNotExist}
	r.Snapshot()
	if _, ok := r.Status(old.Key()); !ok {
		t.Fatal("an unavailable directory forgot the pod")
	}
	w.src.set()
	r.Snapshot()
	if _, ok := r.Status(old.Key()); ok {
		t.Fatal("a removed manifest's pod is still known")
	}
	b, err := os.ReadFile(filepath.Join(w.dir, stateFile))
	if err != nil || strings.Contains(string(b), old.Hash) {
		t.Fatalf("state file %s (%v) still holds the removed pod", b, err)
	}
}

func TestStateDirMustBePrivate(t *testing.T) {
	w := newWorld(t)
	if err := os.Chmod(w.dir, 0o770); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{Source: w.src, RootDir: w.dir})
	if err == nil || !strings.Contains(err.Error(), w.dir) || !strings.Contains(err.Error(), "group or others") {
		t.Fatalf("error %v, want a refusal naming the directory and its mode", err)
	}
}

func TestTheLastReadyVersionReadBackIsTheSamePod(t *testing.T) {
	w := newWorld(t)
	y := `apiVersion: v1
kind: Pod
metadata: {name: etcd, namespace: kube-system, labels: {component: etcd}, annotations: {a: b}}
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  containers:
  - name: etcd
    image: busybox
    command: [etcd, --data-dir=/var/lib/etcd]
    resources: {requests: {cpu: "0.1", memory: 100Mi}, limits: {memory: 1Gi}}
    volumeMounts: [{name: data, mountPath: /var/lib/etcd}]
    livenessProbe: {httpGet: {host: 127.0.0.1, path: /health, port: 2381}, initialDelaySeconds: 10}
  volumes: [{name: data, hostPath: {path: /var/lib/etcd, type: DirectoryOrCreate}}]
`
	sp, err := manifest.Load("/etc/kubernetes/manifests/etcd.yaml", []byte(y), node)
	if err != nil {
		t.Fatal(err)
	}
	r := w.start(t, true)
	w.src.set(sp)
	w.loop.set(running(sp, t0.Add(-10*time.Minute), "Running", true, 0)) // no readiness probe: Running for 5m is Ready
	w.loop.pods[0].Containers[0].Name = "etcd"
	r.Snapshot()
	r.Close()

	w.loop = &fakeLoop{history: sync.NewHistory()}
	r2 := w.start(t, true)
	r2.mu.Lock()
	got := r2.recs[sp.Key()].lastReady
	r2.mu.Unlock()
	if got == nil {
		t.Fatal("no last Ready version read back")
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(sp)
	if string(a) != string(b) {
		t.Fatalf("read back:\n%s\nwant\n%s", a, b)
	}
	again := got.Pod.DeepCopy()
	again.Spec.NodeName = "" // Load hashes the pod before it sets the node
	if h, err := manifest.Hash(again, node); err != nil || h != sp.Hash {
		t.Errorf("the pod read back hashes to %s (%v), want %s", h, err, sp.Hash)
	}
}

func TestAnUnreadableStateFileIsForgottenNotFatal(t *testing.T) {
	w := newWorld(t)
	if err := os.WriteFile(filepath.Join(w.dir, stateFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := w.start(t, true)
	old := version(t, `"v1"`, true)
	w.src.set(old)
	w.loop.set(running(old, t0, "Running", true, 0))
	if got := only(t, r.Snapshot()); got != old {
		t.Fatalf("runs %v", got)
	}
	b, err := os.ReadFile(filepath.Join(w.dir, stateFile))
	if err != nil || !strings.Contains(string(b), old.Hash) {
		t.Fatalf("state file not replaced: %s %v", b, err)
	}
}

// runFor moves the clock on by d in steps of 100ms and, after each, syncs
// as the loop does when it was woken: it calls r.Snapshot.
func (w *world) runFor(r *Rollout, d time.Duration) {
	for end := w.clk.Now().Add(d); w.clk.Now().Before(end); {
		w.clk.advance(100 * time.Millisecond)
		w.loop.mu.Lock()
		woken := w.loop.wakes > 0
		w.loop.wakes = 0
		w.loop.mu.Unlock()
		if woken {
			r.Snapshot()
		}
	}
}

func TestAProbedVersionIsCompleteSoonAfterTheStatusShowsItReadyNotAtItsDeadline(t *testing.T) {
	w := newWorld(t)
	r := w.start(t, true)
	v1 := version(t, `"v1"`, true, AnnotationProgressDeadline, "10s")
	w.src.set(v1)
	r.Snapshot() // the first sync: nothing runs yet
	w.loop.set(running(v1, t0, "Running", false, 0))
	r.Snapshot() // the sync after the container started
	// The prober woke the loop, whose sync saw the container Ready; no
	// other sync follows.
	w.loop.set(running(v1, t0, "Running", true, 0))
	w.runFor(r, time.Second)
	if s, _ := r.Status(v1.Key()); s.Phase != PhaseComplete || s.LastReadyHash != v1.Hash {
		t.Fatalf("a second after the status showed the version Ready: %+v, want complete with %s as the last Ready version", s, v1.Hash)
	}
	for range 20 {
		w.clk.advance(time.Second)
	}
	if w.loop.wakes != 0 {
		t.Errorf("the loop was woken %d times after the rollout completed", w.loop.wakes)
	}
}

// readyThenNeverReady runs v1 until it is Ready for 3 s, then edits the
// file to v2 (deadline 10 s), which starts and never gets Ready.
func readyThenNeverReady(t *testing.T, w *world, r *Rollout) (v1, v2 *manifest.StaticPod) {
	t.Helper()
	v1 = version(t, `"v1"`, true, AnnotationProgressDeadline, "10s")
	v2 = version(t, `"v2"`, true, AnnotationProgressDeadline, "10s")
	w.src.set(v1)
	r.Snapshot()
	w.loop.set(running(v1, t0, "Running", false, 0))
	r.Snapshot()
	w.loop.set(running(v1, t0, "Running", true, 0))
	w.runFor(r, 3*time.Second)

	// The edit: the sync it wakes still sees v1 run, then v2 starts.
	w.src.set(v2)
	if got := only(t, r.Snapshot()); got != v2 {
		t.Fatalf("the edit runs %s, want %s", got.Hash, v2.Hash)
	}
	w.loop.set(running(v2, w.clk.Now(), "Running", false, 0))
	r.Snapshot()
	return v1, v2
}

func TestAVersionReadyForSecondsIsRolledBackToWhenTheNextEditNeverGetsReady(t *testing.T) {
	w := newWorld(t)
	r := w.start(t, true)
	v1, v2 := readyThenNeverReady(t, w, r)
	w.runFor(r, 10*time.Second)
	s, _ := r.Status(v1.Key())
	if s.Phase != PhaseRolledBack || s.Reason != ReasonDeadline || s.LastReadyHash != v1.Hash || s.FileHash != v2.Hash {
		t.Fatalf("at v2's deadline: %+v, want v2 rolled back to v1 (%s)", s, v1.Hash)
	}
	if got := only(t, r.Snapshot()); got.Hash != v1.Hash {
		t.Fatalf("runs %s, want v1 %s", got.Hash, v1.Hash)
	}
}

// Versions is for readers beside the loop (image garbage collection): it
// gives the last Ready versions and decides nothing, so a rollback due
// meanwhile is still the loop's to take, with the loop woken for it.
func TestVersionsDecidesNothingTheLoopMustSee(t *testing.T) {
	w := newWorld(t)
	r := w.start(t, true)
	v1, _ := readyThenNeverReady(t, w, r)

	// v2's deadline passes; a reader asks for the versions before the loop
	// looks again.
	w.clk.advance(11 * time.Second)
	if vs := r.Versions(); len(vs) != 1 || vs[0].Hash != v1.Hash {
		t.Fatalf("Versions = %v, want v1's last Ready version", vs)
	}
	if s, _ := r.Status(v1.Key()); s.Phase != PhaseProgressing {
		t.Fatalf("after Versions the phase is %s: a reader took the loop's decision", s.Phase)
	}
	w.runFor(r, time.Second)
	if got := only(t, r.Snapshot()); got.Hash != v1.Hash {
		t.Fatalf("runs %s, want v1 %s rolled back to", got.Hash, v1.Hash)
	}
}
