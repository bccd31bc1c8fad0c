package sync

import (
	"log/slog"
	"time"

	"k8s.io/utils/clock"

	"github.com/bosun-sh/bosun/podfs"
	"github.com/bosun-sh/bosun/prober"
	"github.com/bosun-sh/bosun/runtime"
)

// Clock gives the time and timers: the loop's waits, CrashLoopBackOff,
// probes, activeDeadlineSeconds and grace periods all read it. Tests inject
// a fake one (k8s.io/utils/clock/testing).
type Clock = clock.WithTicker

// Config configures a Loop.
type Config struct {
	Runtime Runtime
	Source  Source
	Log     *slog.Logger
	// Clock is the real clock when nil.
	Clock Clock
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
	// MaxCreations bounds the pod creations in flight (default 4): on 2
	// cores, 100 pods created all at once take 60 % longer than four at a
	// time, because containerd slows down under a burst of RunPodSandbox
	// calls. Replacements and take-overs are not bounded.
	MaxCreations int
	// MaxParallelImagePulls bounds the image pulls in flight (the kubelet's
	// maxParallelImagePulls; 1 is its serializeImagePulls); 0 bounds them
	// only by MaxCreations.
	MaxParallelImagePulls int
	// Credentials gives the credentials of image pulls (nil: every pull is
	// anonymous).
	Credentials Credentials
	// pulls holds a slot per pull in flight when MaxParallelImagePulls is
	// set; withDefaults makes it, so every copy of the Config shares it.
	pulls pullSlots
}

// withDefaults fills in what cfg leaves unset.
func (cfg Config) withDefaults() Config {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
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
	if cfg.MaxCreations <= 0 {
		cfg.MaxCreations = 4
	}
	if cfg.MaxParallelImagePulls > 0 && cfg.pulls == nil {
		cfg.pulls = make(pullSlots, cfg.MaxParallelImagePulls)
	}
	return cfg
}

// New returns a Loop for cfg.
func New(cfg Config) *Loop {
	cfg = cfg.withDefaults()
	l := &Loop{
		cfg:          cfg,
		rt:           cfg.Runtime,
		log:          cfg.Log,
		clk:          cfg.Clock,
		backoff:      backoffPolicy{initial: cfg.BackoffInitial, max: cfg.BackoffMax, reset: cfg.BackoffReset},
		fs:           &podfs.FS{Node: cfg.Node, Log: cfg.Log},
		logs:         &podfs.Logs{Dir: cfg.Node.PodLogsDir, LinksDir: cfg.LogLinksDir, Log: cfg.Log},
		hooks:        prober.Runner{Exec: cfg.Runtime, Clock: cfg.Clock},
		wake:         make(chan struct{}, 1),
		pods:         map[podKey]*podState{},
		files:        map[string]string{},
		manifestErrs: map[string]string{},
		view:         &view{},
	}
	l.probes = prober.New(prober.Config{Exec: cfg.Runtime, Status: cfg.Runtime, Clock: cfg.Clock, Log: cfg.Log, OnChange: l.Wake,
		OnWarning: func(w prober.Warning) {
			l.event(Event{Type: EventProbeWarning, Pod: w.Pod, Container: w.Container, Message: w.Kind.String() + " probe: " + w.Message})
		}})
	return l
}
