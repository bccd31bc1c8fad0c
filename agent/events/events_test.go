package events

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	stdsync "sync"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bosun-sh/bosun/sync"
)

// fakeRefs is a Refs whose mirror pods the test adds.
type fakeRefs struct {
	mu   stdsync.Mutex
	refs map[string]*corev1.ObjectReference
}

func (f *fakeRefs) Ref(key string) (*corev1.ObjectReference, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.refs[key]
	return r, ok
}

// add makes the mirror pod of key exist, with the static pod's uid.
func (f *fakeRefs) add(key, uid string) *corev1.ObjectReference {
	ns, name, _ := strings.Cut(key, "/")
	r := MirrorRef(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: "api-uid",
		Annotations: map[string]string{corev1.MirrorPodAnnotationKey: uid}}})
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refs == nil {
		f.refs = map[string]*corev1.ObjectReference{}
	}
	f.refs[key] = r
	return r
}

// chanSource is a Source over an unbuffered channel, so that a send
// returns only once Run took the event.
type chanSource struct{ ch chan sync.Event }

func (s chanSource) Subscribe() (<-chan sync.Event, func()) { return s.ch, func() {} }

// logs records what Run logs.
type logs struct {
	mu   stdsync.Mutex
	recs []slog.Record
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }

// count is how many records have msg as their message.
func (l *logs) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Message == msg {
			n++
		}
	}
	return n
}

// attr is the value of key in the first record with message msg.
func (l *logs) attr(msg, key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if r.Message != msg {
			continue
		}
		v := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				v = a.Value.String()
				return false
			}
			return true
		})
		return v
	}
	return ""
}

// harness runs Run against a fake clientset and a fake clock.
type harness struct {
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	refs   *fakeRefs
	src    chanSource
	logs   *logs
}

func start(t *testing.T, tweak func(*Config)) *harness {
	t.Helper()
	h := &harness{client: fake.NewClientset(), clock: clocktesting.NewFakeClock(time.Unix(1_700_000_000, 0)),
		refs: &fakeRefs{}, src: chanSource{ch: make(chan sync.Event)}, logs: &logs{}}
	cfg := Config{Client: h.client, NodeName: "n1", Source: h.src, Refs: h.refs, Clock: h.clock, Log: slog.New(h.logs)}
	if tweak != nil {
		tweak(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); Run(ctx, cfg) }()
	t.Cleanup(func() { cancel(); <-done })
	eventually(t, "Run to start its ticker", h.clock.HasWaiters)
	return h
}

// send hands e to Run; it returns once Run took it.
func (h *harness) send(t *testing.T, e sync.Event) {
	t.Helper()
	select {
	case h.src.ch <- e:
	case <-time.After(30 * time.Second):
		t.Fatalf("Run did not take the event %v", e.Type)
	}
}

// tick moves the clock by d and waits until Run has handled the tick.
func (h *harness) tick(t *testing.T, d time.Duration) {
	t.Helper()
	h.clock.Step(d)
	// An event sent after the tick is handled after it: Run reads one
	// thing at a time.
	h.send(t, sync.Event{Type: sync.EventContainerExited, Pod: "sync/marker", Message: "exit code 0"})
}

// events is what `kubectl get events -A` shows.
func (h *harness) events(t *testing.T) []corev1.Event {
	t.Helper()
	l, err := h.client.CoreV1().Events("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// waitEvents waits until the API holds n events.
func (h *harness) waitEvents(t *testing.T, n int) []corev1.Event {
	t.Helper()
	var got []corev1.Event
	eventually(t, fmt.Sprintf("%d events in the API", n), func() bool { got = h.events(t); return len(got) >= n })
	return got
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAContainerStartIsANormalStartedEventOnTheMirrorPod(t *testing.T) {
	h := start(t, nil)
	ref := h.refs.add("kube-system/etcd-n1", "static-uid")
	h.send(t, sync.Event{Type: sync.EventContainerStarted, Pod: "kube-system/etcd-n1", Container: "etcd", Message: "1a2b3c, restart count 0"})
	ev := h.waitEvents(t, 1)[0]
	if ev.Namespace != "kube-system" || ev.InvolvedObject != *ref || ev.InvolvedObject.UID != "static-uid" {
		t.Errorf("event %s/%s on %+v, want kube-system on %+v", ev.Namespace, ev.Name, ev.InvolvedObject, *ref)
	}
	if ev.Type != corev1.EventTypeNormal || ev.Reason != "Started" || ev.Message != "Started container etcd: 1a2b3c, restart count 0" {
		t.Errorf("event %s %s %q, want Normal Started", ev.Type, ev.Reason, ev.Message)
	}
	if ev.Source != (corev1.EventSource{Component: "bosun", Host: "n1"}) || ev.ReportingController != "bosun" || ev.ReportingInstance != "n1" {
		t.Errorf("event source %+v, reporting %s %s; want bosun on n1", ev.Source, ev.ReportingController, ev.ReportingInstance)
	}
}

func TestANodeWideEventGoesOnTheNodeAsTheKubeletPostsIt(t *testing.T) {
	h := start(t, nil)
	h.send(t, sync.Event{Type: sync.EventManifestRejected, File: "/etc/kubernetes/manifests/bad.yaml", Message: "spec.containers: required"})
	ev := h.waitEvents(t, 1)[0]
	want := corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "n1"}
	if ev.Namespace != metav1.NamespaceDefault || ev.InvolvedObject != want {
		t.Errorf("event in %q on %+v, want default on %+v", ev.Namespace, ev.InvolvedObject, want)
	}
	if ev.Type != corev1.EventTypeWarning || ev.Reason != "ManifestRejected" || ev.Message != "/etc/kubernetes/manifests/bad.yaml: spec.containers: required" {
		t.Errorf("event %s %s %q", ev.Type, ev.Reason, ev.Message)
	}
}

func TestAnEventWaitsForItsMirrorPodThenIsPostedInOrder(t *testing.T) {
	h := start(t, nil)
	h.send(t, sync.Event{Type: sync.EventPodCreated, Pod: "kube-system/etcd-n1", Message: "sandbox 1a2b attempt 0"})
	h.send(t, sync.Event{Type: sync.EventContainerStarted, Pod: "kube-system/etcd-n1", Container: "etcd", Message: "3c4d, restart count 0"})
	h.tick(t, time.Second)
	if got := h.events(t); len(got) != 0 {
		t.Fatalf("%d events posted before the mirror pod exists: %+v", len(got), got)
	}
	ref := h.refs.add("kube-system/etcd-n1", "static-uid")
	h.tick(t, time.Minute)
	got := h.waitEvents(t, 2)
	if len(got) != 2 {
		t.Fatalf("%d events, want 2", len(got))
	}
	reasons := map[string]bool{}
	for _, ev := range got {
		if ev.InvolvedObject != *ref {
			t.Errorf("event %s on %+v, want %+v", ev.Reason, ev.InvolvedObject, *ref)
		}
		reasons[ev.Reason] = true
	}
	if !reasons["Created"] || !reasons["Started"] {
		t.Errorf("reasons %v, want Created and Started", reasons)
	}
	if n := h.logs.count("events dropped: the pod has no mirror pod"); n != 0 {
		t.Errorf("%d drop logs for events that were posted", n)
	}
}

func TestAnEventWhoseMirrorPodNeverComesIsDroppedWithOneLogLine(t *testing.T) {
	h := start(t, func(c *Config) { c.MaxWait = time.Minute })
	for i := range 3 {
		h.send(t, sync.Event{Type: sync.EventContainerStarted, Pod: "kube-system/etcd-n1", Container: "etcd", Message: fmt.Sprintf("early %d", i)})
	}
	h.tick(t, 2*time.Minute)
	h.send(t, sync.Event{Type: sync.EventContainerStarted, Pod: "kube-system/etcd-n1", Container: "etcd", Message: "later"})
	h.tick(t, 2*time.Minute)
	h.tick(t, 2*time.Minute)
	if n := h.logs.count("events dropped: the pod has no mirror pod"); n != 1 {
		t.Fatalf("%d log lines for the dropped events, want 1", n)
	}
	if got := h.logs.attr("events dropped: the pod has no mirror pod", "pod"); got != "kube-system/etcd-n1" {
		t.Errorf("the log names pod %q", got)
	}
	h.refs.add("kube-system/etcd-n1", "static-uid")
	h.send(t, sync.Event{Type: sync.EventContainerStarted, Pod: "kube-system/etcd-n1", Container: "etcd", Message: "once it exists"})
	got := h.waitEvents(t, 1)
	if len(got) != 1 || !strings.HasSuffix(got[0].Message, "once it exists") {
		t.Errorf("events %+v, want only the one sent once the mirror pod exists", got)
	}
}

func TestARemovedPodWithoutAMirrorPodDropsItsEventsQuietly(t *testing.T) {
	h := start(t, func(c *Config) { c.MaxWait = time.Minute })
	h.send(t, sync.Event{Type: sync.EventContainerStarted, Pod: "kube-system/gone-n1", Container: "c", Message: "x"})
	h.send(t, sync.Event{Type: sync.EventPodRemoved, Pod: "kube-system/gone-n1", Message: "sandbox 1a2b attempt 0 removed"})
	h.tick(t, 2*time.Minute)
	h.tick(t, 2*time.Minute)
	if n := h.logs.count("events dropped: the pod has no mirror pod"); n != 0 {
		t.Errorf("%d warnings about a removed pod's events", n)
	}
}

func TestABurstOfEventsDoesNotBlockTheSenderAndIsLoggedOnce(t *testing.T) {
	h := start(t, nil)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range 10000 {
			h.src.ch <- sync.Event{Type: sync.EventContainerStarted, Pod: "kube-system/etcd-n1", Container: "etcd", Message: fmt.Sprint(i)}
		}
	}()
	select {
	case <-sent:
	case <-time.After(60 * time.Second):
		t.Fatal("the sender of 10000 events is blocked")
	}
	h.tick(t, time.Second)
	h.tick(t, time.Second)
	h.tick(t, time.Second)
	if n := h.logs.count("events dropped"); n != 1 {
		t.Fatalf("%d log lines for one burst, want 1", n)
	}
	if got := h.logs.attr("events dropped", "queue_full"); got != "9000" {
		t.Errorf("the log says %s events dropped for a full queue, want 9000", got)
	}
}

func TestAHostileMessageIsCutAndValidUTF8(t *testing.T) {
	h := start(t, nil)
	h.refs.add("kube-system/etcd-n1", "static-uid")
	msg := "\x1b[31mred\n" + string([]byte{0xff, 0xfe}) + strings.Repeat("é", 3000)
	h.send(t, sync.Event{Type: sync.EventProbeWarning, Pod: "kube-system/etcd-n1", Container: "etcd", Message: msg})
	ev := h.waitEvents(t, 1)[0]
	if len(ev.Message) > MaxMessage || !utf8.ValidString(ev.Message) || !strings.HasSuffix(ev.Message, "…") {
		t.Errorf("a %d-byte message (valid UTF-8: %v), want at most %d, cut with an ellipsis", len(ev.Message), utf8.ValidString(ev.Message), MaxMessage)
	}
	if !strings.HasPrefix(ev.Message, `Container etcd: \x1b[31mred\n`) || strings.ContainsAny(ev.Message, "\x1b\n") {
		t.Errorf("control characters not escaped: %.80q", ev.Message)
	}
}

func TestTheNodeWideRateLimitDropsBeyondItsBurstWithOneLogLine(t *testing.T) {
	h := start(t, func(c *Config) { c.Burst, c.QPS = 3, 0.001 })
	for i := range 10 {
		h.send(t, sync.Event{Type: sync.EventRuntimeUnavailable, Message: fmt.Sprint("down ", i)})
	}
	h.waitEvents(t, 3)
	h.tick(t, time.Second)
	h.tick(t, time.Second)
	if got := h.events(t); len(got) != 3 {
		t.Errorf("%d events posted, want the burst of 3", len(got))
	}
	if got := h.logs.attr("events dropped", "rate_limited"); got != "7" || h.logs.count("events dropped") != 1 {
		t.Errorf("drop logs: %d, rate_limited %q; want one saying 7", h.logs.count("events dropped"), got)
	}
}

// recorded is a recorder that keeps what it is given.
type recorded struct{ messages []string }

func (r *recorded) Event(_ runtime.Object, _, _, message string) {
	r.messages = append(r.messages, message)
}
func (r *recorded) Eventf(o runtime.Object, t, reason, f string, args ...any) {
	r.Event(o, t, reason, fmt.Sprintf(f, args...))
}
func (r *recorded) AnnotatedEventf(o runtime.Object, _ map[string]string, t, reason, f string, args ...any) {
	r.Eventf(o, t, reason, f, args...)
}

func TestTheWaitingQueueKeepsTheNewestWithinItsBound(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_700_000_000, 0))
	refs := &fakeRefs{}
	rec := &recorded{}
	p := newPoster(Config{NodeName: "n1", Refs: refs, Clock: clk, QPS: 1e6, Burst: 1e6}.withDefaults(), rec)
	maxCap := 0
	for i := range 10000 {
		p.receive(sync.Event{Type: sync.EventContainerStarted, Pod: "kube-system/etcd-n1", Container: "etcd", Message: fmt.Sprint(i)})
		maxCap = max(maxCap, cap(p.waiting.items))
	}
	if p.waiting.len() != DefaultMaxWaiting || maxCap > 2*DefaultMaxWaiting || p.full != 10000-DefaultMaxWaiting {
		t.Fatalf("%d waiting (room for %d at most), %d dropped; want %d waiting within twice that", p.waiting.len(), maxCap, p.full, DefaultMaxWaiting)
	}
	refs.add("kube-system/etcd-n1", "static-uid")
	p.tick()
	if len(rec.messages) != DefaultMaxWaiting || rec.messages[0] != "Started container etcd: 9000" || rec.messages[999] != "Started container etcd: 9999" {
		t.Errorf("%d posted, first %q; want the newest %d in order", len(rec.messages), rec.messages[0], DefaultMaxWaiting)
	}
	if p.waiting.len() != 0 || len(p.waiting.perPod) != 0 {
		t.Errorf("%d still waiting, %d pods counted", p.waiting.len(), len(p.waiting.perPod))
	}
}

func TestAnAPIFailureIsLoggedOnceAndTheRecoveryOnce(t *testing.T) {
	var mu stdsync.Mutex
	failing, tries := true, 0
	// The reactor is in place before Run starts: the fake clientset's
	// reactor chain is not safe to change while it is used.
	h := start(t, func(cfg *Config) {
		cfg.Client.(*fake.Clientset).PrependReactor("create", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
			mu.Lock()
			defer mu.Unlock()
			tries++
			if failing {
				return true, nil, apierrors.NewServiceUnavailable("etcd is down")
			}
			return false, nil, nil
		})
	})
	for _, typ := range []sync.EventType{sync.EventRuntimeUnavailable, sync.EventManifestsUnreadable, sync.EventRuntimeAvailable} {
		h.send(t, sync.Event{Type: typ, Message: "x"})
	}
	eventually(t, "three tries to post", func() bool { mu.Lock(); defer mu.Unlock(); return tries == 3 })
	const failed = "events not posted: the API server rejects them or is unreachable; client-go retries a few times, then drops them"
	if n := h.logs.count(failed); n != 1 {
		t.Errorf("%d log lines for three failures of one kind, want 1", n)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	h.send(t, sync.Event{Type: sync.EventRuntimeUnavailable, Message: "again"})
	h.waitEvents(t, 1)
	eventually(t, "the recovery logged", func() bool { return h.logs.count("events posted again") == 1 })
}
