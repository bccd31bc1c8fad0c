//go:build bench

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	bosunruntime "github.com/bosun-sh/bosun/runtime"
)

// subject runs the bench's manifests: bosun, or its peer the kubelet, on the
// same containerd, each with a manifest directory and a node name of its
// own, one after the other (a kubelet kills pods it did not create). Every
// measurement is the same code for both, read from containerd.
type subject struct {
	name string
	e    *env
	// pid is the process whose CPU and memory count.
	pid func() int
	// criCalls is how many CRI calls the process made so far, by method.
	criCalls func(t *testing.T) map[string]float64
	// callTimes, when set, is how many CRI calls the process made so far
	// and how long they took, by method.
	callTimes func(t *testing.T) callSums
	// leavesSandboxes: the kubelet stops a removed pod's sandbox and
	// removes it later; the bench removes it, untimed, to keep every
	// subject's containerd equally clean.
	leavesSandboxes bool
}

// How often the bench looks. Each look is two List calls that containerd
// serves beside the subject's own calls, so it looks seldom where the time
// comes from containerd's timestamps (pollStamped), and often only where
// the bench's own clock times the moment it sees (pollClock: removal).
const (
	pollStamped = 25 * time.Millisecond
	pollClock   = 5 * time.Millisecond
	pollMany    = 100 * time.Millisecond
)

// waitUntil polls cond every `every` until it holds, failing after timeout.
// Timings are read from containerd's clock (StartedAt), not from the polls.
func waitUntil(t *testing.T, what string, timeout, every time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("bench: timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(every)
	}
}

func benchPod(name string, grace int) string {
	return benchPodCmd(name, grace, "sleep 3600")
}

// benchPodCmd is the bench's pod: hostNetwork busybox with seccomp
// RuntimeDefault set in the manifest (bosun's default, not the kubelet's:
// both do the same work).
func benchPodCmd(name string, grace int, sleep string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: %d
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: main
    image: %s
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'exit 3' TERM; %s & wait"]
`, name, grace, busybox, sleep)
}

// startedAt is when the running container of a pod started, per containerd.
func (e *env) startedAt(t *testing.T, pod string, notID string) (string, time.Time, bool) {
	c := e.pod(pod).running("main")
	if c == nil || c.Id == notID {
		return "", time.Time{}, false
	}
	st, err := cri.ContainerStatus(context.Background(), c.Id)
	if err != nil {
		return "", time.Time{}, false
	}
	return c.Id, time.Unix(0, st.StartedAt), true
}

// down reports whether nothing of a pod runs: no ready sandbox, no running
// container.
func (p pod) down() bool {
	if p.ready() != nil {
		return false
	}
	for _, c := range p.containers {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			return false
		}
	}
	return true
}

// removeLeftovers removes the stopped sandboxes of pods whose name starts
// with prefix on this subject's node; bosun removes them itself, so for
// bosun it waits until they are gone.
func (s *subject) removeLeftovers(t *testing.T, prefix string) {
	stopped := func() []*runtimeapi.PodSandbox {
		var out []*runtimeapi.PodSandbox
		for _, sb := range s.sandboxes(t, prefix) {
			if sb.State != runtimeapi.PodSandboxState_SANDBOX_READY {
				out = append(out, sb)
			}
		}
		return out
	}
	if !s.leavesSandboxes {
		waitUntil(t, "stopped sandboxes of "+prefix+"* removed", time.Minute, pollMany, func() bool { return len(stopped()) == 0 })
		return
	}
	for _, sb := range stopped() {
		removeSandbox(sb.Id)
	}
}

// sandboxes lists the sandboxes of pods whose name starts with prefix on
// this subject's node.
func (s *subject) sandboxes(t *testing.T, prefix string) []*runtimeapi.PodSandbox {
	sbs, err := cri.ListPodSandbox(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []*runtimeapi.PodSandbox
	for _, sb := range sbs {
		if n := sb.Metadata.Name; strings.HasPrefix(n, prefix) && strings.HasSuffix(n, "-"+s.e.node) {
			out = append(out, sb)
		}
	}
	return out
}

// create writes one manifest and returns the time until its container
// started; then removes it and waits until it is gone (untimed).
func (s *subject) create(t *testing.T, name string) time.Duration {
	t0 := time.Now()
	s.e.write(name+".yaml", benchPod(name, 0))
	var started time.Time
	waitUntil(t, s.name+" create "+name, time.Minute, pollStamped, func() bool { _, st, ok := s.e.startedAt(t, name, ""); started = st; return ok })
	d := started.Sub(t0)
	s.e.remove(name + ".yaml")
	waitUntil(t, s.name+" remove "+name, 2*time.Minute, pollMany, func() bool { return s.e.pod(name).down() })
	s.removeLeftovers(t, name+"-")
	return d
}

// remove writes a manifest, waits until it runs, deletes it and returns the
// time until nothing of the pod runs.
func (s *subject) remove(t *testing.T, name string) time.Duration {
	s.e.write(name+".yaml", benchPod(name, 0))
	waitUntil(t, s.name+" run "+name, time.Minute, pollMany, func() bool { _, _, ok := s.e.startedAt(t, name, ""); return ok })
	t0 := time.Now()
	s.e.remove(name + ".yaml")
	waitUntil(t, s.name+" remove "+name, 2*time.Minute, pollClock, func() bool { return s.e.pod(name).down() })
	d := time.Since(t0)
	s.removeLeftovers(t, name+"-")
	return d
}

// running maps each pod of this subject whose name starts with prefix to its
// running main container.
func (s *subject) running(t *testing.T, prefix string) map[string]*runtimeapi.Container {
	cs, err := cri.ListContainers(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*runtimeapi.Container{}
	for _, c := range cs {
		n := c.Labels[bosunruntime.LabelPodName]
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING && strings.HasPrefix(n, prefix) && strings.HasSuffix(n, "-"+s.e.node) {
			out[n] = c
		}
	}
	return out
}

// burst writes n manifests at once (pods prefix0..prefix<n-1>) and returns
// the time until the last of their containers started.
func (s *subject) burst(t *testing.T, prefix string, n int) time.Duration {
	t0 := time.Now()
	for i := range n {
		name := prefix + strconv.Itoa(i)
		s.e.write(name+".yaml", benchPod(name, 0))
	}
	var up map[string]*runtimeapi.Container
	waitUntil(t, fmt.Sprintf("%s: %d pods running", s.name, n), 5*time.Minute, pollMany, func() bool {
		up = s.running(t, prefix)
		return len(up) == n
	})
	var last time.Time
	for _, c := range up {
		if st, err := cri.ContainerStatus(context.Background(), c.Id); err == nil && time.Unix(0, st.StartedAt).After(last) {
			last = time.Unix(0, st.StartedAt)
		}
	}
	return last.Sub(t0)
}

// removeAll deletes the n manifests of a burst at once and returns the time
// until nothing of them runs.
func (s *subject) removeAll(t *testing.T, prefix string, n int) time.Duration {
	t0 := time.Now()
	for i := range n {
		s.e.remove(prefix + strconv.Itoa(i) + ".yaml")
	}
	waitUntil(t, fmt.Sprintf("%s: %d pods removed", s.name, n), 5*time.Minute, pollMany, func() bool {
		for _, sb := range s.sandboxes(t, prefix) {
			if sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
				return false
			}
		}
		return len(s.running(t, prefix)) == 0
	})
	d := time.Since(t0)
	s.removeLeftovers(t, prefix)
	return d
}

// restart ends the main process of each pod in turn (each its container's
// first exit, so no backoff applies) and returns, for each, the time from
// its exit to the next instance's start, both as containerd records them.
func (s *subject) restart(t *testing.T, pods []string) []time.Duration {
	var ds []time.Duration
	for _, name := range pods {
		old := s.e.pod(name).running("main")
		if old == nil {
			t.Fatalf("%s: pod %s does not run", s.name, name)
		}
		// The container's shell exits on SIGTERM.
		if _, _, err := cri.ExecSync(context.Background(), old.Id, []string{"kill", "1"}, 5*time.Second); err != nil {
			t.Fatalf("kill: %v", err)
		}
		var started time.Time
		waitUntil(t, s.name+" restart "+name, time.Minute, pollStamped, func() bool {
			_, st, ok := s.e.startedAt(t, name, old.Id)
			started = st
			return ok
		})
		st, err := cri.ContainerStatus(context.Background(), old.Id)
		if err != nil {
			t.Logf("%s: restart of %s: the exited container is gone (%v); run left out", s.name, name, err)
			continue
		}
		ds = append(ds, started.Sub(time.Unix(0, st.FinishedAt)))
	}
	return ds
}

// replace changes a running pod's manifest (grace 0) runs times and returns,
// for each, the time until the new version's container started in a new
// sandbox. A run over limit ends the series.
func (s *subject) replace(t *testing.T, name string, runs int, limit time.Duration) []time.Duration {
	s.e.write(name+".yaml", benchPod(name, 0))
	waitUntil(t, s.name+" run "+name, time.Minute, pollMany, func() bool { _, _, ok := s.e.startedAt(t, name, ""); return ok })
	var ds []time.Duration
	for i := range runs {
		old := s.e.pod(name).ready()
		t0 := time.Now()
		s.e.write(name+".yaml", benchPodCmd(name, 0, "sleep "+strconv.Itoa(3601+i)))
		var started time.Time
		waitUntil(t, s.name+" replace "+name, limit+time.Minute, pollStamped, func() bool {
			p := s.e.pod(name)
			sb, c := p.ready(), p.running("main")
			if sb == nil || c == nil || sb.Id == old.Id {
				return false
			}
			st, err := cri.ContainerStatus(context.Background(), c.Id)
			if err != nil {
				return false
			}
			started = time.Unix(0, st.StartedAt)
			return true
		})
		ds = append(ds, started.Sub(t0))
		s.removeLeftovers(t, name+"-") // the old sandbox, for the kubelet
		if started.Sub(t0) > limit {
			t.Logf("%s: replace took %v, over %v: no more runs", s.name, started.Sub(t0), limit)
			break
		}
	}
	s.e.remove(name + ".yaml")
	waitUntil(t, s.name+" remove "+name, 2*time.Minute, pollMany, func() bool { return s.e.pod(name).down() })
	s.removeLeftovers(t, name+"-")
	return ds
}

// idleUse is what a subject costs while nothing changes.
type idleUse struct {
	Pods        int     `json:"pods"`
	Seconds     float64 `json:"seconds"`
	CPUPercent  float64 `json:"cpu_percent_of_one_core"`
	RSSMiB      float64 `json:"rss_mib"`
	MaxRSSMiB   float64 `json:"max_rss_mib"`
	CallsPerMin float64 `json:"cri_calls_per_minute"`
}

// idle measures the subject's process over window: CPU (all its threads,
// and children it waited for), resident memory now and at its peak, and CRI
// calls per minute.
func (s *subject) idle(t *testing.T, pods int, window time.Duration) idleUse {
	pid := s.pid()
	cpu0 := cpuTime(pid)
	calls0 := sum(s.criCalls(t))
	time.Sleep(window)
	cpu1 := cpuTime(pid)
	calls1 := sum(s.criCalls(t))
	rss, hwm := procMemory(pid)
	return idleUse{Pods: pods, Seconds: window.Seconds(), CPUPercent: 100 * (cpu1 - cpu0).Seconds() / window.Seconds(),
		RSSMiB: float64(rss) / 1024, MaxRSSMiB: float64(hwm) / 1024, CallsPerMin: (calls1 - calls0) * 60 / window.Seconds()}
}

func sum(m map[string]float64) float64 {
	total := 0.0
	for _, v := range m {
		total += v
	}
	return total
}

// cpuTime is the CPU time of a process: its threads' run time from
// schedstat (nanoseconds), plus the user and system time of the children it
// waited for.
func cpuTime(pid int) time.Duration {
	var total time.Duration
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fs := strings.Fields(string(b)); len(fs) > 0 {
			ns, _ := strconv.ParseInt(fs[0], 10, 64)
			total += time.Duration(ns)
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		f := strings.Fields(string(b[strings.LastIndex(string(b), ")")+2:]))
		cu, _ := strconv.ParseInt(f[13], 10, 64)
		cs, _ := strconv.ParseInt(f[14], 10, 64)
		total += time.Duration(cu+cs) * time.Second / 100 // USER_HZ
	}
	return total
}

// listPair times one ListPodSandbox and one ListContainers of everything:
// the runtime's share of a relist.
func listPair(t *testing.T) time.Duration {
	start := time.Now()
	if _, err := cri.ListPodSandbox(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cri.ListContainers(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}
