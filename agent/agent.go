// Package agent is bosun's API side: with a kubeconfig, bosun acts as its
// node's agent toward the Kubernetes API server, as the kubelet does for its
// static pods. It bootstraps and rotates the node's client certificate
// (agent/certs), registers the Node and renews its Lease (agent/node), keeps
// a mirror pod per static pod with its status (agent/mirror) and posts
// events (agent/events).
//
// It reads what the sync loop publishes and the manifest snapshot; it never
// calls the CRI and never gates the loop, its readiness or /healthz: the
// API server is one of bosun's own pods, absent at boot, during its own
// upgrade and whenever etcd is down. Every part retries with backoff and
// catches up when the API returns.
package agent

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	stdsync "sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/bosun-sh/bosun/agent/certs"
	"github.com/bosun-sh/bosun/agent/events"
	"github.com/bosun-sh/bosun/agent/mirror"
	"github.com/bosun-sh/bosun/agent/node"
	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/sync"
)

// Loop is what the agent reads from the sync loop.
type Loop interface {
	// Pods is the status of every pod as of the last sync.
	Pods() []sync.PodStatus
	// Ready reports whether the first sync is done and the runtime answers.
	Ready() bool
}

// Desired is the manifest snapshot the loop acts on.
type Desired interface {
	Snapshot() manifest.Snapshot
}

// EventSource fans out the loop's events.
type EventSource interface {
	Subscribe() (<-chan sync.Event, func())
}

// Config configures the agent; the flag names are the kubelet's.
type Config struct {
	// Kubeconfig is --kubeconfig; BootstrapKubeconfig is
	// --bootstrap-kubeconfig (may be empty); CertDir is --cert-dir.
	Kubeconfig          string
	BootstrapKubeconfig string
	CertDir             string
	RotateCertificates  bool

	NodeName string
	Hostname string
	NodeIP   string
	// Labels are --node-labels; Taints are --register-with-taints.
	Labels map[string]string
	Taints []corev1.Taint
	// RuntimeVersion is nodeInfo.containerRuntimeVersion, such as
	// "containerd://1.6.20"; KubeletVersion is nodeInfo.kubeletVersion.
	RuntimeVersion string
	KubeletVersion string
	RootDir        string

	StatusUpdateFrequency time.Duration
	StatusReportFrequency time.Duration
	LeaseDuration         time.Duration
	// QPS and Burst bound the API client (the kubelet's kubeAPIQPS and
	// kubeAPIBurst, 50 and 100 by default).
	QPS   float32
	Burst int

	Loop    Loop
	Desired Desired
	Events  EventSource
	Clock   clock.WithTicker
	Log     *slog.Logger
}

// Agent is the API side of one node.
type Agent struct {
	cfg Config

	mu     stdsync.Mutex
	mirror *mirror.Controller
	state  string
}

// New returns the agent of cfg; Run starts it.
func New(cfg Config) *Agent {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.QPS == 0 {
		cfg.QPS = 50
	}
	if cfg.Burst == 0 {
		cfg.Burst = 100
	}
	return &Agent{cfg: cfg, state: "waiting for " + cfg.Kubeconfig}
}

// callTimeout bounds each API call but the watches.
const callTimeout = 30 * time.Second

// newClient is a clientset of c with the agent's rate limit and timeout.
func newClient(c *rest.Config, qps float32, burst int, timeout time.Duration) (kubernetes.Interface, error) {
	c = rest.CopyConfig(c)
	c.QPS, c.Burst, c.Timeout = qps, burst, timeout
	return kubernetes.NewForConfig(c)
}

// Backoff bounds of getting credentials that the API refuses (a wrong
// identity, a revoked certificate): a person has to act, so bosun asks
// again slowly.
const (
	credentialsRetryMin = 5 * time.Second
	credentialsRetryMax = 5 * time.Minute
)

// Run gets the node's credentials, then keeps the Node, its Lease, the
// mirror pods and the events until ctx ends. Nothing it does touches a pod.
func (a *Agent) Run(ctx context.Context) {
	log := a.cfg.Log
	restCfg := a.credentials(ctx)
	if restCfg == nil {
		return
	}
	// The mirror pods' informer watches: its client has no overall timeout.
	// Every other call (status patches, leases, events) gets one, since
	// some of client-go's helpers take no context.
	watching, err := newClient(restCfg, a.cfg.QPS, a.cfg.Burst, 0)
	var client kubernetes.Interface
	if err == nil {
		client, err = newClient(restCfg, a.cfg.QPS, a.cfg.Burst, callTimeout)
	}
	if err != nil {
		// Only a malformed configuration gets here; certs checked it.
		log.Error("API client", "kubeconfig", a.cfg.Kubeconfig, "err", err)
		a.setState("no API client: " + err.Error())
		return
	}
	n := node.New(node.Config{
		Client: client, NodeName: a.cfg.NodeName, Hostname: a.cfg.Hostname, NodeIP: a.cfg.NodeIP,
		Labels: a.cfg.Labels, Taints: a.cfg.Taints, Runtime: a.cfg.Loop,
		RuntimeVersion: a.cfg.RuntimeVersion, KubeletVersion: a.cfg.KubeletVersion, RootDir: a.cfg.RootDir,
		LeaseDuration: a.cfg.LeaseDuration, StatusUpdateFrequency: a.cfg.StatusUpdateFrequency,
		StatusReportFrequency: a.cfg.StatusReportFrequency,
		Clock:                 a.cfg.Clock, Log: log.With("part", "node"),
	})
	m := mirror.New(mirror.Config{
		Client: watching, NodeName: a.cfg.NodeName, NodeIP: a.cfg.NodeIP,
		Desired: a.cfg.Desired, Status: a.cfg.Loop, Node: n,
		Clock: a.cfg.Clock, Log: log.With("part", "mirror"),
	})
	a.mu.Lock()
	a.mirror = m
	a.state = "connected to " + restCfg.Host
	a.mu.Unlock()
	log.Info("API side running", "server", restCfg.Host, "node", a.cfg.NodeName)
	var wg stdsync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); n.Run(ctx) }()
	go func() { defer wg.Done(); m.Run(ctx) }()
	go func() {
		defer wg.Done()
		events.Run(ctx, events.Config{Client: client, NodeName: a.cfg.NodeName, Source: a.cfg.Events, Refs: staticRefs{a.cfg.Desired, m},
			Clock: a.cfg.Clock, Log: log.With("part", "events")})
	}()
	wg.Wait()
}

// staticRefs names the pod an event is about as the kubelet names a static
// pod: its name and namespace, and its static UID, the value of the mirror
// pod's kubernetes.io/config.mirror annotation, which is what kubectl
// describe looks up for a mirror pod. So an event goes out at once, before
// the mirror pod exists (the API server keeps it by name); a pod no longer
// in the manifests is named by its mirror pod while that exists.
type staticRefs struct {
	desired Desired
	mirror  events.Refs
}

func (r staticRefs) Ref(key string) (*corev1.ObjectReference, bool) {
	snap := r.desired.Snapshot()
	for _, sp := range snap.Pods {
		if sp.Key() == key {
			return &corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: sp.Namespace, Name: sp.Name, UID: types.UID(sp.UID)}, true
		}
	}
	return r.mirror.Ref(key)
}

// credentials returns the node's API client configuration once certs has
// one, or nil when ctx ends first. An error is logged once per message and
// retried with a growing, jittered delay.
func (a *Agent) credentials(ctx context.Context) *rest.Config {
	delay := credentialsRetryMin
	last := ""
	for {
		c, err := certs.Start(ctx, certs.Config{
			Kubeconfig: a.cfg.Kubeconfig, BootstrapKubeconfig: a.cfg.BootstrapKubeconfig, CertDir: a.cfg.CertDir,
			NodeName: a.cfg.NodeName, RotateCertificates: a.cfg.RotateCertificates,
			Clock: a.cfg.Clock, Log: a.cfg.Log.With("part", "certs"),
		})
		if err == nil {
			return c
		}
		if ctx.Err() != nil {
			return nil
		}
		if msg := err.Error(); msg != last {
			last = msg
			a.cfg.Log.Error("no API credentials; pods keep running, the API side waits", "kubeconfig", a.cfg.Kubeconfig, "err", err)
		}
		a.setState("no credentials: " + err.Error())
		if !sleep(ctx, a.cfg.Clock, jitter(delay)) {
			return nil
		}
		delay = min(2*delay, credentialsRetryMax)
	}
}

// MirrorPod says where the mirror pod of the pod with key namespace/name
// stands, for bosun inspect: "" without an API side.
func (a *Agent) MirrorPod(key string) string {
	a.mu.Lock()
	m, state := a.mirror, a.state
	a.mu.Unlock()
	if m == nil {
		return "none: " + state
	}
	if p, ok := m.Problems()[key]; ok {
		return "refused: " + p
	}
	if ref, ok := m.Ref(key); ok {
		return fmt.Sprintf("%s/%s uid %s", ref.Namespace, ref.Name, ref.UID)
	}
	return "not posted yet"
}

func (a *Agent) setState(s string) {
	a.mu.Lock()
	a.state = s
	a.mu.Unlock()
}

// jitter spreads d by up to a fifth either way.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()-0.5)*0.4*float64(d))
}

// sleep waits d on clk; false when ctx ended first.
func sleep(ctx context.Context, clk clock.WithTicker, d time.Duration) bool {
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}
