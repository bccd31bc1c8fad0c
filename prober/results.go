package prober

import (
	"time"
)

// Kind is a probe's kind.
type Kind int

// The kinds of probe, in the order the kubelet reports them.
const (
	Startup Kind = iota
	Liveness
	Readiness
)

// Kinds lists every kind, in order.
var Kinds = []Kind{Startup, Liveness, Readiness}

func (k Kind) String() string {
	switch k {
	case Startup:
		return "startup"
	case Liveness:
		return "liveness"
	case Readiness:
		return "readiness"
	}
	return "unknown"
}

// Result is what one worker last published: the last probe's outcome and
// the verdict after the thresholds.
type Result struct {
	Kind Kind
	// Success, Message, ConsecutiveFailures and Last describe the last
	// probe; Last is zero before the first one.
	Success             bool
	Message             string
	ConsecutiveFailures int32
	Last                time.Time
	// OK is the verdict: SuccessThreshold successes in a row set it,
	// FailureThreshold failures clear it.
	OK bool
	// Failed is set when a startup or liveness probe failed
	// FailureThreshold times: the container must be killed. The worker has
	// stopped then; the result stays until the container no longer runs.
	Failed bool
}

// Warning is a success that deserves a word, published once per change.
type Warning struct {
	Pod, Container string
	Kind           Kind
	Message        string
}
