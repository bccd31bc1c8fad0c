package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/e2e/criproxy"
)

// newProxiedEnv is newEnv with bosun talking to the test's containerd
// through a recording, fault-injecting CRI proxy.
func newProxiedEnv(t *testing.T, flags ...string) (*env, *criproxy.Proxy) {
	t.Helper()
	p, err := criproxy.Start(filepath.Join(t.TempDir(), "cri.sock"), filepath.Join(containerdDir, "containerd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs last: after bosun stopped.
	t.Cleanup(p.Close)
	return newEnv(t, append(flags, "--container-runtime-endpoint", p.Endpoint())...), p
}

// killOnReply has the proxy SIGKILL bosun once the next call of method has
// reached containerd and before its answer reaches bosun, so bosun never
// learns the result. The returned channel closes when bosun is dead.
func (e *env) killOnReply(p *criproxy.Proxy, method string) <-chan struct{} {
	e.t.Helper()
	e.mu.Lock()
	pid, exited := e.bosun.Process.Pid, e.exited
	e.mu.Unlock()
	dead := make(chan struct{})
	p.OnReply(method, func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-exited
		close(dead)
	})
	return dead
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// settled waits until pod name has exactly one sandbox, ready, holding
// exactly one container, running: nothing half-made is left behind.
func (e *env) settled(name string) *runtimeapi.Container {
	e.t.Helper()
	var c *runtimeapi.Container
	eventually(e.t, 90*time.Second, "pod "+name+" with one ready sandbox and one running container", func() bool {
		p := e.pod(name)
		c = p.running("main")
		return len(p.sandboxes) == 1 && p.ready() != nil && len(p.containers) == 1 && c != nil
	})
	return c
}

// noMutationsFor fails the test if the proxy saw a mutating call after mark
// while bosun relisted n times.
func (e *env) noMutationsFor(p *criproxy.Proxy, mark, n int) {
	e.t.Helper()
	lists := p.Count("ListContainers")
	eventually(e.t, time.Minute, fmt.Sprintf("%d relists", n), func() bool { return p.Count("ListContainers") >= lists+n })
	if got := p.Since(mark, true); len(got) > 0 {
		e.t.Errorf("mutating CRI calls where none were due: %v", got)
	}
}

// TestBosunKilledAtEveryStepOfCreatingAPod: the proxy SIGKILLs bosun after
// containerd did each step of creating a pod (and of replacing one, between
// stopping the old sandbox and removing it) and before bosun hears of it.
// The next bosun finishes or cleans up: one ready sandbox per pod, one
// running container, nothing left behind.
func TestBosunKilledAtEveryStepOfCreatingAPod(t *testing.T) {
	e, p := newProxiedEnv(t)
	e.startBosun()
	restart := func(dead <-chan struct{}, step string) {
		t.Helper()
		waitClosed(t, dead, "bosun killed "+step)
		e.stopBosun(syscall.SIGKILL)
		e.startBosun()
	}
	// What containerd holds when bosun dies after each step.
	halfMade := map[string]func(pod) bool{
		"RunPodSandbox": func(p pod) bool { return p.ready() != nil && len(p.containers) == 0 },
		"CreateContainer": func(p pod) bool {
			return len(p.containers) == 1 && p.containers[0].State == runtimeapi.ContainerState_CONTAINER_CREATED
		},
		"StartContainer": func(p pod) bool {
			return len(p.containers) == 1 && p.containers[0].State == runtimeapi.ContainerState_CONTAINER_RUNNING
		},
	}
	for i, step := range []string{"RunPodSandbox", "CreateContainer", "StartContainer"} {
		name := fmt.Sprintf("step%d", i)
		dead := e.killOnReply(p, step)
		e.write(name+".yaml", sleeperPod(name, "Always"))
		waitClosed(t, dead, "bosun killed after "+step)
		if !halfMade[step](e.pod(name)) {
			t.Fatalf("bosun killed after %s, but containerd does not hold what that step makes: %d sandboxes, %v", step, len(e.pod(name).sandboxes), e.pod(name).containers)
		}
		before := p.Mark()
		restart(dead, "after "+step)
		c := e.settled(name)
		t.Logf("killed after %s: the next bosun made %v", step, p.Since(before, true))
		mark := p.Mark()
		if c.Metadata.Attempt != 0 {
			t.Errorf("after a kill at %s the container runs with restart count %d, want 0", step, c.Metadata.Attempt)
		}
		e.noMutationsFor(p, mark, 3)
	}

	// A replacement killed between stopping the old sandbox and removing it.
	old := e.settled("step0")
	oldSandbox := e.pod("step0").ready().Id
	dead := e.killOnReply(p, "StopPodSandbox")
	e.write("step0.yaml", onePod("step0", "Always", 1, "sleep", "3601"))
	waitClosed(t, dead, "bosun killed after StopPodSandbox")
	// The new sandbox is made while the old one stops: it may be there,
	// without containers; the old container is stopped, not removed.
	if p := e.pod("step0"); !stoppedOnly(p, oldSandbox, old.Id) {
		t.Fatalf("bosun killed after StopPodSandbox, but the old sandbox %s is not stopped with only its exited container: %v %v", oldSandbox, p.sandboxes, p.containers)
	}
	before := p.Mark()
	restart(dead, "between StopPodSandbox and RemovePodSandbox")
	c := e.settled("step0")
	t.Logf("killed between StopPodSandbox and RemovePodSandbox: the next bosun made %v", p.Since(before, true))
	if c.Id == old.Id || e.pod("step0").ready().Id == oldSandbox {
		t.Errorf("the replacement was not finished: container %s, sandbox %s are the old ones", c.Id, oldSandbox)
	}
	for i := range 3 {
		e.settled(fmt.Sprintf("step%d", i))
	}
}

// stoppedOnly reports whether pod p holds sandbox id, stopped, and no
// container but container, exited.
func stoppedOnly(p pod, id, container string) bool {
	stopped := false
	for _, sb := range p.sandboxes {
		stopped = stopped || (sb.Id == id && sb.State == runtimeapi.PodSandboxState_SANDBOX_NOTREADY)
	}
	return stopped && len(p.containers) == 1 && p.containers[0].Id == container && p.containers[0].State == runtimeapi.ContainerState_CONTAINER_EXITED
}

// TestSlowAndFailingCRICalls: a RunPodSandbox whose answer bosun never gets
// (deadline exceeded) but that containerd completed; a StartContainer that
// fails once; the runtime answering Unavailable for 30 s, its connections
// dropped.
func TestSlowAndFailingCRICalls(t *testing.T) {
	e, p := newProxiedEnv(t)
	e.startBosun()
	addr := e.httpAddr()

	t.Run("RunPodSandboxPastItsDeadline", func(t *testing.T) {
		mark := p.Mark()
		p.FailAfterForward("RunPodSandbox", 1, codes.DeadlineExceeded)
		e.write("slow.yaml", sleeperPod("slow", "Always"))
		e.settled("slow")
		calls := p.Since(mark, true)
		t.Logf("mutating calls: %v", calls)
		if calls["RunPodSandbox"] != 1 {
			t.Errorf("%d RunPodSandbox calls for one pod, want 1: the sandbox containerd made is found by its labels, not made again", calls["RunPodSandbox"])
		}
		e.noMutationsFor(p, p.Mark(), 3)
	})

	t.Run("StartContainerFailsOnce", func(t *testing.T) {
		mark := p.Mark()
		p.Fail("StartContainer", 1, codes.Internal)
		e.write("flaky.yaml", sleeperPod("flaky", "Always"))
		e.settled("flaky")
		calls := p.Since(mark, true)
		if calls["RunPodSandbox"] != 1 || calls["StartContainer"] != 2 {
			t.Errorf("mutating calls %v, want one sandbox and two starts", calls)
		}
		e.noMutationsFor(p, p.Mark(), 3)
	})

	t.Run("Unavailable30s", func(t *testing.T) {
		before := map[string]string{}
		for _, n := range []string{"slow", "flaky"} {
			before[n] = e.settled(n).Id
		}
		mark := p.Mark()
		p.Unavailable(30 * time.Second)
		// Open connections and the event stream break too, as when the
		// runtime goes away.
		p.DropConnections()
		down := time.Now()
		eventually(t, 20*time.Second, "/readyz failing while the runtime is unavailable", func() bool {
			return httpStatus(addr+"/readyz") == http.StatusServiceUnavailable
		})
		e.write("late.yaml", sleeperPod("late", "Always"))
		if time.Since(down) > 25*time.Second {
			t.Fatal("the runtime came back before the test could look")
		}
		if got := p.Since(mark, true); len(got) > 0 {
			t.Errorf("mutating calls reached the runtime while it was down: %v", got)
		}
		e.settled("late")
		for n, id := range before {
			if c := e.settled(n); c.Id != id {
				t.Errorf("pod %s: container %s replaced by %s across the outage", n, id, c.Id)
			}
		}
		calls := p.Since(mark, true)
		if calls["RunPodSandbox"] != 1 || calls["CreateContainer"] != 1 || calls["StartContainer"] != 1 || len(calls) != 3 {
			t.Errorf("mutating calls after the outage %v, want only the new pod's sandbox, create and start", calls)
		}
	})
}

// TestHungContainerStatusStallsNothingElse: ContainerStatus answers only
// after bosun's deadline; other pods are still created and /healthz answers.
func TestHungContainerStatusStallsNothingElse(t *testing.T) {
	e, p := newProxiedEnv(t)
	e.startBosun()
	addr := e.httpAddr()
	p.Delay("ContainerStatus", 1000, time.Hour)
	// An exited container is what bosun asks ContainerStatus about.
	e.write("done.yaml", onePod("done", "Never", 1, "true"))
	eventually(t, 30*time.Second, "a ContainerStatus call for the exited container", func() bool { return p.Count("ContainerStatus") > 0 })
	start := time.Now()
	e.write("other.yaml", sleeperPod("other", "Always"))
	// A /healthz stuck behind the call would not answer within httpStatus's
	// 5 s; 3 s leaves room for a loaded machine.
	for time.Since(start) < 5*time.Second {
		t0 := time.Now()
		if code := httpStatus(addr + "/healthz"); code != http.StatusOK || time.Since(t0) > 3*time.Second {
			t.Fatalf("/healthz answered %d after %v while a ContainerStatus hangs", code, time.Since(t0))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The hung call ends at bosun's 30 s call timeout: a pod made only
	// after it would be too late for this deadline.
	eventually(t, time.Until(start.Add(20*time.Second)), "the other pod running while a ContainerStatus call hangs", func() bool {
		return e.pod("other").running("main") != nil
	})
	p.Clear()
}

// httpStatus is the status code of a GET, 0 when it fails.
func httpStatus(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	r, err := c.Get("http://" + url)
	if err != nil {
		return 0
	}
	r.Body.Close()
	return r.StatusCode
}
