package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	stdsync "sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-helpers/apimachinery/lease"
	nodeutil "k8s.io/component-helpers/node/util"
	"k8s.io/utils/clock"
)

// Defaults of Config, the kubelet's.
const (
	DefaultLeaseDuration         = 40 * time.Second
	DefaultLeaseRenewInterval    = 10 * time.Second
	DefaultStatusUpdateFrequency = 10 * time.Second
	DefaultStatusReportFrequency = 5 * time.Minute
)

// readyPoll is how often the controller asks Runtime.Ready between status
// updates, so that a change of readiness is reported at once.
const readyPoll = time.Second

// retry bounds the backoff between failed attempts (the kubelet's 7 s cap).
var retry = wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: math.MaxInt32, Cap: 7 * time.Second}

// maxErrLen bounds the text of an API error in a log line.
const maxErrLen = 512

// Runtime is what the controller reads of the sync loop.
type Runtime interface {
	// Ready says whether the first sync is done and the CRI answers.
	Ready() bool
}

// Config is what the controller needs; zero durations, Clock and Log take
// their defaults.
type Config struct {
	Client kubernetes.Interface
	// NodeName is the Node's name, the Lease's name and holder.
	NodeName string
	// Hostname is the kubernetes.io/hostname label and the Hostname address;
	// NodeName when empty.
	Hostname string
	// NodeIP is the InternalIP address; none is reported when it is empty.
	NodeIP string
	// Labels are --node-labels, over the kubelet's own labels (see ValidateLabels).
	Labels map[string]string
	// Taints are --register-with-taints, set when the Node is created only.
	Taints []corev1.Taint
	// Runtime is the sync loop; a nil Runtime is never ready.
	Runtime Runtime
	// RuntimeVersion is nodeInfo.containerRuntimeVersion, e.g. "containerd://1.6.20".
	RuntimeVersion string
	// KubeletVersion is nodeInfo.kubeletVersion.
	KubeletVersion string
	// RootDir is where ephemeral-storage capacity is measured (statfs).
	RootDir string

	LeaseDuration, LeaseRenewInterval, StatusUpdateFrequency, StatusReportFrequency time.Duration

	Clock clock.WithTicker
	Log   *slog.Logger
}

// Controller registers this node's Node and keeps its status and its Lease.
type Controller struct {
	cfg   Config
	log   *slog.Logger
	clock clock.WithTicker
	host  host
	lease lease.Controller
	wake  chan struct{}

	mu  stdsync.Mutex
	uid types.UID

	// The fields below belong to Run's goroutine.
	registered bool
	lastReport time.Time
	nextUpdate time.Time
	lastReady  bool
	lastFail   string
	lastFacts  string
}

// New returns a controller for cfg, with the kubelet's defaults for what cfg
// leaves zero; it does nothing before Run.
func New(cfg Config) *Controller {
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.NodeName
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = DefaultLeaseDuration
	}
	if cfg.LeaseRenewInterval <= 0 {
		cfg.LeaseRenewInterval = DefaultLeaseRenewInterval
	}
	if cfg.StatusUpdateFrequency <= 0 {
		cfg.StatusUpdateFrequency = DefaultStatusUpdateFrequency
	}
	if cfg.StatusReportFrequency <= 0 {
		cfg.StatusReportFrequency = DefaultStatusReportFrequency
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	c := &Controller{
		cfg:   cfg,
		log:   cfg.Log,
		clock: cfg.Clock,
		host:  realHost(),
		wake:  make(chan struct{}, 1),
	}
	seconds := int32(min(math.MaxInt32, max(1, cfg.LeaseDuration/time.Second)))
	c.lease = lease.NewController(cfg.Clock, cfg.Client, cfg.NodeName, seconds, nil,
		cfg.LeaseRenewInterval, cfg.NodeName, corev1.NamespaceNodeLease, c.setLeaseOwner)
	return c
}

// NodeUID is the registered Node's UID, once known; it changes when the Node
// is deleted and bosun registers it again.
func (c *Controller) NodeUID() (types.UID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.uid, c.uid != ""
}

// setUID records the Node's UID ("" when the Node is gone).
func (c *Controller) setUID(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uid = uid
}

// Wake asks Run to compute the status now instead of at its next tick; it
// never blocks.
func (c *Controller) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run registers the Node (create; on AlreadyExists get and reconcile what
// bosun owns), then keeps its status and its Lease until ctx ends. It never
// returns early for API errors: it retries with backoff and jitter.
func (c *Controller) Run(ctx context.Context) {
	leaseDone := make(chan struct{})
	go func() {
		defer close(leaseDone)
		c.lease.Run(ctx)
	}()
	defer func() { <-leaseDone }()

	if c.cfg.NodeIP != "" && len(addresses(c.cfg.NodeIP, "")) == 0 {
		c.log.Warn("node IP is not a usable IP; the node reports no InternalIP", "node", c.cfg.NodeName, "ip", c.cfg.NodeIP)
	}
	backoff := retry
	for ctx.Err() == nil {
		if err := c.syncOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			c.failed(err)
			c.sleep(ctx, backoff.Step())
			continue
		}
		c.recovered()
		backoff = retry
		c.waitForUpdate(ctx)
	}
}

// waitForUpdate returns when the next status update is due, when the
// runtime's readiness differs from the one last computed, when Wake was
// called, or when ctx ends.
func (c *Controller) waitForUpdate(ctx context.Context) {
	for {
		d := min(c.nextUpdate.Sub(c.clock.Now()), readyPoll)
		if d <= 0 {
			return
		}
		if c.sleep(ctx, d) || ctx.Err() != nil || c.ready() != c.lastReady {
			return
		}
	}
}

// sleep waits d on the clock; it says whether Wake ended it.
func (c *Controller) sleep(ctx context.Context, d time.Duration) bool {
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return false
	case <-c.wake:
		return true
	case <-ctx.Done():
		return false
	}
}

// errNodeGone says the Node was deleted while bosun ran.
var errNodeGone = errors.New("node deleted")

// syncOnce registers the Node when it is not, then updates its status; a Node
// deleted meanwhile is registered again at once.
func (c *Controller) syncOnce(ctx context.Context) error {
	for range 2 {
		in := c.input()
		if !c.registered {
			n, created, err := c.register(ctx, in)
			if err != nil {
				return err
			}
			c.setUID(n.UID)
			c.registered = true
			if created {
				// A Node just created carries the status just computed.
				c.lastReport = in.now
			}
		}
		err := c.updateStatus(ctx, in)
		if !errors.Is(err, errNodeGone) {
			return err
		}
		c.log.Warn("node was deleted; registering it again", "node", c.cfg.NodeName)
		c.registered = false
		c.setUID("")
	}
	return fmt.Errorf("node %s: %w twice in a row", c.cfg.NodeName, errNodeGone)
}

// input reads everything the status is computed from.
func (c *Controller) input() statusInput {
	m, err := readMachine(c.host, c.cfg.RootDir)
	if msg := errText(err); msg != c.lastFacts {
		c.lastFacts = msg
		if err != nil {
			c.log.Warn("cannot read some of the machine's facts; the node reports what it read", "node", c.cfg.NodeName, "err", msg)
		}
	}
	return statusInput{
		machine:        m,
		nodeIP:         c.cfg.NodeIP,
		hostname:       c.cfg.Hostname,
		runtimeVersion: c.cfg.RuntimeVersion,
		kubeletVersion: c.cfg.KubeletVersion,
		ready:          c.ready(),
		now:            c.clock.Now(),
	}
}

// ready says whether the runtime is ready.
func (c *Controller) ready() bool {
	return c.cfg.Runtime != nil && c.cfg.Runtime.Ready()
}

// updateStatus computes the Node's status and patches it when it changed or
// when StatusReportFrequency passed since the last report.
func (c *Controller) updateStatus(ctx context.Context, in statusInput) error {
	orig, err := c.cfg.Client.CoreV1().Nodes().Get(ctx, c.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return errNodeGone
	}
	if err != nil {
		return fmt.Errorf("node %s: read: %w", c.cfg.NodeName, err)
	}
	if uid, _ := c.NodeUID(); uid != orig.UID {
		c.setUID(orig.UID)
	}
	c.lastReady = in.ready
	c.nextUpdate = in.now.Add(wait.Jitter(c.cfg.StatusUpdateFrequency, 0.04))

	node := orig.DeepCopy()
	ensureOSArchLabels(node)
	applyStatus(node, in)
	if !statusChanged(orig, node) && in.now.Sub(c.lastReport) < c.cfg.StatusReportFrequency {
		return nil
	}
	if _, err := c.patchStatus(ctx, orig, node); err != nil {
		return fmt.Errorf("node %s: update status: %w", c.cfg.NodeName, err)
	}
	c.lastReport = in.now
	if before, after := readyStatus(&orig.Status), readyStatus(&node.Status); before != after {
		c.log.Info("node readiness reported", "node", c.cfg.NodeName, "ready", string(after))
	}
	return nil
}

// patchStatus sends the strategic merge patch from old to updated to the
// Node's status subresource, as the kubelet does.
func (c *Controller) patchStatus(_ context.Context, old, updated *corev1.Node) (*corev1.Node, error) {
	n, _, err := nodeutil.PatchNodeStatus(c.cfg.Client.CoreV1(), types.NodeName(c.cfg.NodeName), old, updated)
	if err != nil {
		// The helper's error quotes the whole patch before the API's answer:
		// keep the answer only.
		msg := err.Error()
		if i := strings.LastIndex(msg, fmt.Sprintf("for node %q: ", c.cfg.NodeName)); i >= 0 {
			msg = msg[i+len(fmt.Sprintf("for node %q: ", c.cfg.NodeName)):]
		}
		return nil, errors.New(msg)
	}
	return n, nil
}

// setLeaseOwner makes the Node the owner of its Lease once the Node's UID is
// known, and again when the Node was registered anew; before the UID is
// known it refuses a Lease without owner, so that none is created.
func (c *Controller) setLeaseOwner(l *coordinationv1.Lease) error {
	uid, ok := c.NodeUID()
	if !ok {
		if len(l.OwnerReferences) == 0 {
			return fmt.Errorf("node %s: not registered yet", c.cfg.NodeName)
		}
		return nil
	}
	ref := metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: c.cfg.NodeName, UID: uid}
	for i, o := range l.OwnerReferences {
		if o.APIVersion == "v1" && o.Kind == "Node" {
			l.OwnerReferences[i] = ref
			return nil
		}
	}
	l.OwnerReferences = append(l.OwnerReferences, ref)
	return nil
}

// failed logs err once per change of its text.
func (c *Controller) failed(err error) {
	msg := errText(err)
	if msg == c.lastFail {
		return
	}
	c.lastFail = msg
	c.log.Warn("cannot register or update the node; retrying", "node", c.cfg.NodeName, "err", msg)
}

// recovered logs that the API answers again after a failure.
func (c *Controller) recovered() {
	if c.lastFail == "" {
		return
	}
	c.lastFail = ""
	c.log.Info("node status is reported again", "node", c.cfg.NodeName)
}

// errText is err's text, bounded and valid UTF-8; "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	s := strings.ToValidUTF8(err.Error(), "?")
	if len(s) > maxErrLen {
		s = strings.ToValidUTF8(s[:maxErrLen], "") + "..."
	}
	return s
}
