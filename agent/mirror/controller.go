package mirror

import (
	"context"
	"log/slog"
	stdsync "sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/sync"
)

// Defaults and bounds of the controller.
const (
	// DefaultPeriod is how often published status is compared: kubeadm
	// polls the mirror pods about once a second during upgrades.
	DefaultPeriod = time.Second
	// RejectRetry is how long a pod whose mirror pod the API refused
	// (403, 422) waits before the next try, unless its manifest changes.
	RejectRetry = 3 * time.Minute
	// CallTimeout bounds each API call.
	CallTimeout = 10 * time.Second
	// maxLoggedError is the most bytes of an API error kept and logged.
	maxLoggedError = 1 << 10
)

// Desired is the manifest snapshot the mirror pods follow.
type Desired interface {
	Snapshot() manifest.Snapshot
}

// Status is what the sync loop publishes about its pods.
type Status interface {
	Pods() []sync.PodStatus
}

// NodeRef says the UID of this node's Node object, once it is known.
type NodeRef interface {
	NodeUID() (types.UID, bool)
}

// Config configures a Controller.
type Config struct {
	Client   kubernetes.Interface
	NodeName string
	// NodeIP is the pods' hostIP, and the podIP of hostNetwork pods: one
	// IP, or two separated by a comma (dual stack, as the kubelet's
	// --node-ip).
	NodeIP  string
	Desired Desired
	Status  Status
	Node    NodeRef
	// Period is how often published status is compared, and the most often
	// one mirror pod's status is patched (default DefaultPeriod).
	Period time.Duration
	Clock  clock.WithTicker
	Log    *slog.Logger
}

// Controller keeps this node's mirror pods in step with its static pods.
type Controller struct {
	cfg      Config
	factory  informers.SharedInformerFactory
	informer cache.SharedIndexInformer
	lister   corelisters.PodLister
	wake     chan struct{}
	inflight stdsync.WaitGroup

	mu   stdsync.Mutex
	pods map[string]*record // by pod key namespace/name
}

// WatchTimeout is how long one watch of the mirror pods lasts before the
// informer starts the next, from where it was. The API server is one of
// bosun's own pods: when bosun stops it (an upgrade, a flag added), it
// waits for its open connections to end before it exits, and a watch
// that lasts minutes (client-go's default) would hold the old apiserver,
// and so the API, until its grace period runs out (30 s instead of 11 s in
// make e2e-controlplane). A watch every 2 s costs the API server nothing it
// notices (served from its watch cache).
const WatchTimeout = 2 * time.Second

// tweak selects this node's pods, and cuts a watch (the only request the
// reflector gives a timeout) to WatchTimeout.
func tweak(o *metav1.ListOptions, selector string) {
	o.FieldSelector = selector
	if o.TimeoutSeconds != nil {
		s := int64(WatchTimeout / time.Second)
		o.TimeoutSeconds = &s
	}
}

// New returns a Controller; Run starts it.
func New(cfg Config) *Controller {
	if cfg.Period <= 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	selector := fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
	factory := informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { tweak(o, selector) }))
	pods := factory.Core().V1().Pods()
	c := &Controller{cfg: cfg, factory: factory, informer: pods.Informer(), lister: pods.Lister(),
		wake: make(chan struct{}, 1), pods: map[string]*record{}}
	_, _ = c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.observed,
		UpdateFunc: func(_, obj any) { c.observed(obj) },
		DeleteFunc: c.observed,
	})
	return c
}

// Run keeps one mirror pod per desired static pod in step with the
// manifests and the published status until ctx ends; it retries API errors
// with backoff and jitter and never blocks on the API for longer than one
// call.
func (c *Controller) Run(ctx context.Context) {
	c.factory.Start(ctx.Done())
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced) {
			c.poke() // the first list is in: act at once
		}
	}()
	ticker := c.cfg.Clock.NewTicker(c.cfg.Period)
	defer func() {
		ticker.Stop()
		c.inflight.Wait()
		c.factory.Shutdown()
	}()
	for {
		c.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		case <-c.wake:
		}
	}
}

// Ref is the object reference of the mirror pod of the pod with key
// namespace/name (for events), once it exists in the API.
func (c *Controller) Ref(key string) (*corev1.ObjectReference, bool) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, false
	}
	pod, err := c.lister.Pods(ns).Get(name)
	if err != nil || !isMirror(pod, c.cfg.NodeName) || pod.DeletionTimestamp != nil {
		return nil, false
	}
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}, true
}

// Problems maps pod keys to why their mirror pod is refused (admission
// rejection), for bosun inspect.
func (c *Controller) Problems() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for key, r := range c.pods {
		if r.problem != "" {
			out[key] = r.problem
		}
	}
	return out
}

// observed notes a pod the informer saw (added, changed or deleted) and
// wakes the loop.
func (c *Controller) observed(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	c.mu.Lock()
	if r := c.pods[pod.Namespace+"/"+pod.Name]; r != nil && r.created != nil && r.created.UID == pod.UID {
		r.created = nil // the informer has it now, or it is gone already
	}
	c.mu.Unlock()
	c.poke()
}

// poke wakes the loop without blocking.
func (c *Controller) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// record is what the controller remembers of one pod key.
type record struct {
	// busy is set while a call for the pod is in flight.
	busy bool
	// retryAt is when the pod may be acted on again after an error.
	retryAt time.Time
	backoff wait.Backoff
	// seenHash is the version first seen at seen (config.seen).
	seenHash string
	seen     time.Time
	// created is the mirror pod bosun made, until the informer shows it.
	created *corev1.Pod
	// deleted is the UID of the mirror pod bosun deleted last.
	deleted types.UID
	// written is the status last patched onto the mirror pod writtenUID.
	written    *corev1.PodStatus
	writtenUID types.UID
	patchedAt  time.Time
	// rejectedHash is the version whose mirror pod the API refused.
	rejectedHash string
	problem      string
	// logged is the last error logged, so that a repeated one is not.
	logged string
}

// newBackoff is the retry backoff of one pod: 1 s doubling to MaxBackoff,
// with jitter.
func newBackoff() wait.Backoff {
	return wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.2, Steps: 1 << 30, Cap: MaxBackoff}
}

// MaxBackoff is the longest wait between two tries of a failed call. The
// API server is mostly away because bosun replaces it (an upgrade, a flag
// added): its mirror pod must follow within seconds of its return, since
// kubeadm upgrade waits for it. A call every 5 s per pod to an absent
// server costs nothing.
const MaxBackoff = 5 * time.Second

// record returns the record of key, made on first use. c.mu must be held.
func (c *Controller) record(key string) *record {
	r := c.pods[key]
	if r == nil {
		r = &record{backoff: newBackoff()}
		c.pods[key] = r
	}
	return r
}
