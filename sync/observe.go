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

// observe rebuilds what runs from one ListPodSandbox and one ListContainers
// call, both filtered by bosun's ownership label: adoption after a restart
// of bosun needs nothing else. Exited containers get one ContainerStatus
// call each, remembered while they exist (an exited container does not
// change).
func (l *Loop) observe(ctx context.Context) (map[string]*observedPod, error) {
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
	l.observeExits(ctx, pods)
	for _, p := range pods {
		sort.Slice(p.sandboxes, func(i, j int) bool { return p.sandboxes[i].Attempt > p.sandboxes[j].Attempt })
		for _, s := range p.sandboxes {
			sort.Slice(s.containers, func(i, j int) bool { return s.containers[i].RestartCount > s.containers[j].RestartCount })
		}
	}
	return pods, nil
}

// observeExits attaches to each exited container how it ended, asking the
// runtime only for those not seen before, and forgets the others.
func (l *Loop) observeExits(ctx context.Context, pods map[string]*observedPod) {
	for key, p := range pods {
		var exited []*observedContainer
		for _, s := range p.sandboxes {
			for _, c := range s.containers {
				if c.Exited() {
					exited = append(exited, c)
				}
			}
		}
		l.mu.Lock()
		known := l.state(podKey(key)).exits
		var ask []*observedContainer
		for _, c := range exited {
			if c.exit = known[c.ID]; c.exit == nil {
				ask = append(ask, c)
			}
		}
		l.mu.Unlock()
		for _, c := range ask {
			c.exit = l.exitOf(ctx, key, c)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, s := range l.pods {
		seen := map[string]*exitRecord{}
		if p := pods[string(key)]; p != nil {
			for _, sb := range p.sandboxes {
				for _, c := range sb.containers {
					if c.exit != nil && !c.exit.unknown {
						seen[c.ID] = c.exit
					}
				}
			}
		}
		s.exits = seen
	}
}

// exitOf asks the runtime how container c ended and records the exit as an
// event once the first sync is done. A failed call yields an empty exit
// (exit code 0 unknown), asked again next time.
func (l *Loop) exitOf(ctx context.Context, key string, c *observedContainer) *exitRecord {
	st, err := l.rt.ContainerStatus(ctx, c.ID)
	if err != nil {
		l.log.Warn("container status", "container", c.ID, "err", err)
		return &exitRecord{unknown: true, exit: runtime.ExitOf(nil)}
	}
	rec := &exitRecord{exit: runtime.ExitOf(st)}
	l.mu.Lock()
	synced := l.synced
	l.mu.Unlock()
	if synced {
		msg := fmt.Sprintf("exit code %d", rec.exit.Code)
		if rec.exit.Reason != "" {
			msg += ", " + rec.exit.Reason
		}
		l.event(Event{Type: EventContainerExited, Pod: key, Container: c.Name, Message: msg})
	}
	return rec
}
