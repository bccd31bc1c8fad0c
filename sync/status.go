package sync

import "time"

// PodStatus is what bosun knows of one pod, for `bosun ps` and the API.
type PodStatus struct {
	Namespace string
	Name      string
	UID       string
	Hash      string
	File      string
	// Phase is Pending, Running, Succeeded, Failed or Terminating (no
	// manifest asks for it any more).
	Phase string
	// Reason is the one-word status kubectl would show (CrashLoopBackOff,
	// ContainerCreating, Error, Completed, ...).
	Reason      string
	SandboxID   string
	Attempt     uint32
	IP          string
	HostNetwork bool
	Created     time.Time
	Containers  []ContainerStatus
	// SyncError is the last error of acting on the pod, until it succeeds.
	SyncError string
	// ManifestError is set while the pod's manifest does not load and the
	// pod runs from its last good version (or from what was running).
	ManifestError string
	// RunningHash and RunningSpec are the hash and the Pod spec (JSON; empty
	// for a sandbox made by an older bosun) of the version the pod's
	// sandbox runs; empty when no sandbox runs.
	RunningHash string
	RunningSpec string
	// SandboxDead is set when the sandbox shown (SandboxID, Created) is no
	// longer ready, e.g. after a reboot, until a new one is made.
	SandboxDead bool
}

// Key is "namespace/name".
func (p *PodStatus) Key() string { return p.Namespace + "/" + p.Name }

// ContainerStatus is one container of a PodStatus.
type ContainerStatus struct {
	Name         string
	ID           string
	Image        string
	State        string // Waiting, Running, Terminated
	Reason       string
	Message      string
	ExitCode     int32
	StartedAt    time.Time
	FinishedAt   time.Time
	RestartCount uint32
	// BackoffUntil is when a container in CrashLoopBackOff may restart.
	BackoffUntil time.Time
	LogPath      string
	// LastTermination describes the previous instance, when one exited.
	LastTermination *Termination
	Ready           bool
	Probes          []ProbeResult
	// Init is set for init containers (sidecars included).
	Init bool
}

// ProbeResult is the last result of one probe of a container.
type ProbeResult struct {
	// Kind is startup, liveness or readiness.
	Kind                string
	Success             bool
	Message             string
	ConsecutiveFailures int32
	Last                time.Time
}

// Termination is how a container instance ended.
type Termination struct {
	ExitCode   int32
	Reason     string
	Message    string
	StartedAt  time.Time
	FinishedAt time.Time
}

// ManifestStatus is a file of the manifest directory that bosun does not
// run: a manifest that does not load (Error), or an entry that is not read
// as a manifest at all (Ignored, the reason: a dotfile, a subdirectory, an
// editor or package manager leftover, another name). Exactly one is set.
type ManifestStatus struct {
	File    string
	Error   string
	Ignored string
}
