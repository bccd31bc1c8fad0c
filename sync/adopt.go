package sync

import (
	"context"
	"fmt"
	"sort"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/runtime"
)

// observedPod is everything the runtime holds for one pod key
// (namespace/name): every sandbox, old and current, with its containers.
type observedPod struct {
	key       string
	sandboxes []*observedSandbox
	// kubelet holds a kubelet's static pod sandboxes of the same name, to
	// take over (only with Config.TakeOver).
	kubelet []*observedSandbox
}

type observedSandbox struct {
	sb         *runtimeapi.PodSandbox
	containers []*observedContainer
}

type observedContainer struct {
	c *runtimeapi.Container
	// status is set for exited containers (exit code, times).
	status       *runtimeapi.ContainerStatus
	restartCount uint32
}

func (s *observedSandbox) uid() string      { return s.sb.GetMetadata().GetUid() }
func (s *observedSandbox) hash() string     { return s.sb.GetAnnotations()[runtime.AnnotationConfigHash] }
func (s *observedSandbox) manifest() string { return s.sb.GetAnnotations()[runtime.AnnotationManifest] }
func (s *observedSandbox) attempt() uint32  { return s.sb.GetMetadata().GetAttempt() }
func (s *observedSandbox) ready() bool {
	return s.sb.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY
}

func (c *observedContainer) name() string { return c.c.GetMetadata().GetName() }
func (c *observedContainer) exited() bool {
	return c.c.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED ||
		c.c.GetState() == runtimeapi.ContainerState_CONTAINER_UNKNOWN
}
func (c *observedContainer) exitCode() int32 { return c.status.GetExitCode() }
func (c *observedContainer) startedAt() time.Time {
	if c.status.GetStartedAt() == 0 {
		return time.Time{}
	}
	return time.Unix(0, c.status.GetStartedAt())
}
func (c *observedContainer) finishedAt() time.Time { return time.Unix(0, c.status.GetFinishedAt()) }

// observe rebuilds what runs from one ListPodSandbox and one ListContainers
// call, both filtered by bosun's ownership label: adoption after a restart
// of bosun needs nothing else. Exited containers get one ContainerStatus
// call each, cached while they exist (an exited container does not change).
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
		key := sb.GetMetadata().GetNamespace() + "/" + sb.GetMetadata().GetName()
		p := pods[key]
		if p == nil {
			p = &observedPod{key: key}
			pods[key] = p
		}
		osb := &observedSandbox{sb: sb}
		p.sandboxes = append(p.sandboxes, osb)
		byID[sb.Id] = osb
	}
	seen := map[string]bool{}
	for _, c := range containers {
		osb := byID[c.PodSandboxId]
		if osb == nil {
			continue // its sandbox went away between the two lists
		}
		oc := &observedContainer{c: c, restartCount: runtime.RestartCountOf(c.Annotations, c.GetMetadata().GetAttempt())}
		if oc.exited() {
			seen[c.Id] = true
			oc.status = l.exitStatus(ctx, c.Id)
		}
		osb.containers = append(osb.containers, oc)
	}
	l.pruneStatusCache(seen)
	for _, p := range pods {
		sort.Slice(p.sandboxes, func(i, j int) bool { return p.sandboxes[i].attempt() > p.sandboxes[j].attempt() })
		for _, s := range p.sandboxes {
			sort.Slice(s.containers, func(i, j int) bool { return s.containers[i].restartCount > s.containers[j].restartCount })
		}
	}
	return pods, nil
}

// exitStatus returns the cached status of an exited container, asking the
// runtime once. A failed call yields an empty status (exit code 0 unknown).
func (l *Loop) exitStatus(ctx context.Context, id string) *runtimeapi.ContainerStatus {
	l.mu.Lock()
	st, ok := l.statusCache[id]
	l.mu.Unlock()
	if ok {
		return st
	}
	st, err := l.rt.ContainerStatus(ctx, id)
	if err != nil {
		l.log.Warn("container status", "container", id, "err", err)
		return &runtimeapi.ContainerStatus{Id: id}
	}
	l.mu.Lock()
	l.statusCache[id] = st
	synced := l.synced
	l.mu.Unlock()
	if synced {
		key := st.GetLabels()[runtime.LabelPodNamespace] + "/" + st.GetLabels()[runtime.LabelPodName]
		msg := fmt.Sprintf("exit code %d", st.GetExitCode())
		if st.GetReason() != "" {
			msg += ", " + st.GetReason()
		}
		l.event(Event{Type: EventContainerExited, Pod: key, Container: st.GetMetadata().GetName(), Message: msg})
	}
	return st
}

func (l *Loop) pruneStatusCache(seen map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.statusCache {
		if !seen[id] {
			delete(l.statusCache, id)
		}
	}
}
