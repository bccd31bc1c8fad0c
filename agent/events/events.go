package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"

	"github.com/bosun-sh/bosun/sync"
)

// Source fans out bosun's events; *sync.History is one.
type Source interface {
	// Subscribe returns the events recorded from now on, and a function
	// that ends the subscription.
	Subscribe() (<-chan sync.Event, func())
}

// Refs finds the object events about a pod go on.
type Refs interface {
	// Ref returns the reference to the mirror pod of the pod whose key is
	// "namespace/name", once the mirror pod exists. Its UID must be the
	// value of the mirror pod's kubernetes.io/config.mirror annotation
	// (the static pod's UID), which is what `kubectl describe pod` looks
	// for on a mirror pod's events; MirrorRef builds such a reference.
	Ref(podKey string) (*corev1.ObjectReference, bool)
}

// Defaults of Config.
const (
	// DefaultMaxWaiting is how many events may wait for their mirror pod.
	DefaultMaxWaiting = 1000
	// DefaultMaxWait is how long an event waits for its mirror pod.
	DefaultMaxWait = 5 * time.Minute
	// DefaultQPS and DefaultBurst bound the events posted by the node as a
	// whole, beyond client-go's per-object spam filter (25 at once, then
	// one every 5 minutes per object and type).
	DefaultQPS   = 1
	DefaultBurst = 100
	// checkPeriod is how often waiting events look for their mirror pod.
	checkPeriod = time.Second
	// callTimeout bounds each call to the API.
	callTimeout = 15 * time.Second
)

// Config configures Run.
type Config struct {
	Client   kubernetes.Interface
	NodeName string
	Source   Source
	Refs     Refs
	Clock    clock.WithTicker
	Log      *slog.Logger
	// MaxWaiting and MaxWait bound the events that wait for their mirror
	// pod (DefaultMaxWaiting, DefaultMaxWait when zero).
	MaxWaiting int
	MaxWait    time.Duration
	// QPS and Burst bound the events posted (DefaultQPS, DefaultBurst when
	// zero).
	QPS   float32
	Burst int
}

// withDefaults is cfg with its zero fields set to their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = DefaultMaxWaiting
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.QPS <= 0 {
		cfg.QPS = DefaultQPS
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	return cfg
}

// Run posts an Event for each bosun event until ctx ends; events of a pod
// whose mirror pod does not exist yet wait (bounded in number and time) for
// it; node-wide events go on the Node. Events recorded before Run starts are
// not posted.
func Run(ctx context.Context, cfg Config) {
	cfg = cfg.withDefaults()
	events, unsubscribe := cfg.Source.Subscribe()
	defer unsubscribe()
	// client-go logs every failed try with the whole event; the sink logs
	// once per change instead.
	quiet := logr.NewContext(ctx, logr.Discard())
	b := record.NewBroadcaster(record.WithContext(quiet), record.WithCorrelatorOptions(record.CorrelatorOptions{Clock: cfg.Clock}))
	defer b.Shutdown()
	b.StartRecordingToSink(newSink(ctx, cfg.Client, cfg.NodeName, cfg.Log))
	rec := b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Component, Host: cfg.NodeName}).WithLogger(logr.Discard())
	p := newPoster(cfg, rec)
	tick := cfg.Clock.NewTicker(checkPeriod)
	defer tick.Stop()
	for {
		// A tick goes first, so that events that waited are posted before
		// newer ones of other pods.
		select {
		case <-tick.C():
			p.tick()
		default:
		}
		select {
		case <-ctx.Done():
			p.endBurst()
			return
		case e, ok := <-events:
			if !ok {
				p.endBurst()
				return
			}
			p.receive(e)
		case <-tick.C():
			p.tick()
		}
	}
}

// NodeRef is the reference events about the node go on: the kubelet's,
// whose UID is the node's name (`kubectl describe node` finds both that and
// the Node's UID).
func NodeRef(nodeName string) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: nodeName, UID: types.UID(nodeName)}
}

// MirrorRef is the reference events about a static pod go on, given its
// mirror pod: the pod's namespace and name, and the UID in its
// kubernetes.io/config.mirror annotation (the pod's own UID when it has
// none), as the kubelet posts them and `kubectl describe pod` finds them.
func MirrorRef(pod *corev1.Pod) *corev1.ObjectReference {
	uid := pod.UID
	if m, ok := pod.Annotations[corev1.MirrorPodAnnotationKey]; ok && m != "" {
		uid = types.UID(m)
	}
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: uid}
}

// poster turns bosun events into postings and hands them to the recorder,
// keeping those whose mirror pod does not exist yet.
type poster struct {
	cfg     Config
	rec     record.EventRecorder
	node    *corev1.ObjectReference
	limit   flowcontrol.PassiveRateLimiter
	waiting *queue
	// warned holds the pods whose expired events were logged; a pod leaves
	// it when its mirror pod appears.
	warned map[string]bool
	// full and limited count the events dropped in the current burst
	// because the queue was full or the rate limit was reached; seen is
	// their sum at the last tick, so that a tick without new drops ends
	// the burst with one log line.
	full, limited, seen int
}

// maxWarned bounds poster.warned.
const maxWarned = 1000

// newPoster returns a poster that posts through rec.
func newPoster(cfg Config, rec record.EventRecorder) *poster {
	return &poster{
		cfg: cfg, rec: rec, node: NodeRef(cfg.NodeName),
		limit:   flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(cfg.QPS, cfg.Burst, cfg.Clock),
		waiting: newQueue(cfg.MaxWaiting),
		warned:  map[string]bool{},
	}
}

// receive posts e's postings, or keeps those about a pod without a mirror
// pod until it appears; a removed pod's events are dropped instead.
func (p *poster) receive(e sync.Event) {
	var onPod []posting
	for _, ps := range postings(e) {
		if ps.scope == onNode || e.Pod == "" {
			p.post(p.node, ps)
		} else {
			onPod = append(onPod, ps)
		}
	}
	if len(onPod) == 0 {
		return
	}
	if ref, ok := p.cfg.Refs.Ref(e.Pod); ok {
		p.found(e.Pod)
		for _, w := range p.waiting.take(e.Pod) {
			p.postAll(ref, w.posts)
		}
		p.postAll(ref, onPod)
		return
	}
	if e.Type == sync.EventPodRemoved {
		if n := len(p.waiting.take(e.Pod)); n > 0 {
			p.cfg.Log.Debug("events of a removed pod without a mirror pod dropped", "pod", e.Pod, "events", n+1)
		}
		return
	}
	p.full += p.waiting.push(waiting{pod: e.Pod, since: p.cfg.Clock.Now(), posts: onPod})
}

// tick posts the waiting events whose mirror pod appeared, drops those that
// waited too long (one log line per pod until its mirror pod appears), and
// ends a burst of drops.
func (p *poster) tick() {
	ready, refs, expired := p.waiting.sweep(p.cfg.Clock.Now(), p.cfg.MaxWait, p.cfg.Refs.Ref)
	for pod := range refs {
		p.found(pod)
	}
	for _, w := range ready {
		p.postAll(refs[w.pod], w.posts)
	}
	for pod, n := range expired {
		if p.warned[pod] {
			continue
		}
		if len(p.warned) >= maxWarned {
			clear(p.warned)
		}
		p.warned[pod] = true
		p.cfg.Log.Warn("events dropped: the pod has no mirror pod", "pod", pod, "events", n, "waited", p.cfg.MaxWait)
	}
	if n := p.full + p.limited; n == p.seen {
		p.endBurst()
	} else {
		p.seen = n
	}
}

// endBurst logs the events dropped since the burst began, if any.
func (p *poster) endBurst() {
	if p.full+p.limited > 0 {
		p.cfg.Log.Warn("events dropped", "queue_full", p.full, "rate_limited", p.limited,
			"max_waiting", p.cfg.MaxWaiting, "qps", p.cfg.QPS, "burst", p.cfg.Burst)
	}
	p.full, p.limited, p.seen = 0, 0, 0
}

// found notes that pod's mirror pod exists.
func (p *poster) found(pod string) { delete(p.warned, pod) }

// postAll posts each of posts on ref.
func (p *poster) postAll(ref *corev1.ObjectReference, posts []posting) {
	for _, ps := range posts {
		p.post(ref, ps)
	}
}

// post hands one posting to the recorder within the rate limit.
func (p *poster) post(ref *corev1.ObjectReference, ps posting) {
	if !p.limit.TryAccept() {
		p.limited++
		return
	}
	r := *ref
	p.rec.Event(&r, ps.typ, ps.reason, ps.message)
}
