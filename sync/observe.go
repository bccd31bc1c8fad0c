package sync

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/bosun-sh/bosun/prober"
	"github.com/bosun-sh/bosun/runtime"
)

// observedPod is everything the runtime holds for one pod key
// (namespace/name): every sandbox, old and current, with its containers.
type observedPod struct {
	key       string
	sandboxes []*observedSandbox // newest attempt first
	// kubelet holds a kubelet's static pod sandboxes of the same name, to
	// take over (only with Config.TakeOver).
	kubelet []*observedSandbox
	// incomplete is set while how an exited container ended is not known
	// yet (its ContainerStatus call is slow): the pod is not planned.
	incomplete bool
}

type observedSandbox struct {
	runtime.Sandbox
	containers []*observedContainer // highest restart count first
}

type observedContainer struct {
	runtime.Container
	// exit is set for exited containers.
	exit *exitRecord
	// probe is what the prober says of a running container.
	probe probeView
}

// probeView is a running container's probe verdicts when it was observed.
type probeView struct {
	// started: its startup probe, if any, succeeded.
	started bool
	// ready: started, and its readiness probe, if any, says so.
	ready   bool
	results []prober.Result
	// failed is set when its startup or liveness probe failed for good.
	failed *prober.Result
}

// end is how an exited container ended (zero when not known).
func (c *observedContainer) end() runtime.Exit {
	if c.exit == nil {
		return runtime.ExitOf(nil)
	}
	return c.exit.exit
}

func (c *observedContainer) exitCode() int32       { return c.end().Code }
func (c *observedContainer) startedAt() time.Time  { return c.end().Started }
func (c *observedContainer) finishedAt() time.Time { return c.end().Finished }

// exitedAt is when an exited container ended, on the loop's clock (its
// runtime's stamp when the loop did not place it), and ran how long it ran.
func (c *observedContainer) exitedAt() (exited time.Time, ran time.Duration) {
	if c.exit != nil && c.exit.placed {
		return c.exit.exited, c.exit.ran
	}
	return exitClock(c.startedAt(), c.finishedAt(), c.finishedAt(), watch{})
}

// observe rebuilds what runs from one ListPodSandbox and one ListContainers
// call, both filtered by bosun's ownership label: adoption after a restart
// of bosun needs nothing else. Exited containers get one ContainerStatus
// call each, remembered while they exist (an exited container does not
// change).
func (l *Loop) observe(ctx context.Context) (map[string]*observedPod, error) {
	listed := l.clk.Now() // before the lists: what they show is at least this new
	sandboxes, err := l.rt.ListPodSandbox(ctx, runtime.ManagedSelector())
	if err != nil {
		return nil, fmt.Errorf("observe: %w", err)
	}
	containers, err := l.rt.ListContainers(ctx, runtime.ManagedSelector())
	if err != nil {
		return nil, fmt.Errorf("observe: %w", err)
	}
	pods := map[string]*observedPod{}
	byID := map[string]*observedSandbox{}
	for _, sb := range sandboxes {
		s := &observedSandbox{Sandbox: runtime.SandboxOf(sb)}
		p := pods[s.Key()]
		if p == nil {
			p = &observedPod{key: s.Key()}
			pods[s.Key()] = p
		}
		p.sandboxes = append(p.sandboxes, s)
		byID[s.ID] = s
	}
	for _, c := range containers {
		if s := byID[c.PodSandboxId]; s != nil { // else its sandbox went away between the two lists
			s.containers = append(s.containers, &observedContainer{Container: runtime.ContainerOf(c)})
		}
	}
	l.observeExits(ctx, pods, listed)
	for _, p := range pods {
		sort.Slice(p.sandboxes, func(i, j int) bool { return p.sandboxes[i].Attempt > p.sandboxes[j].Attempt })
		for _, s := range p.sandboxes {
			sort.Slice(s.containers, func(i, j int) bool { return s.containers[i].RestartCount > s.containers[j].RestartCount })
		}
	}
	return pods, nil
}
