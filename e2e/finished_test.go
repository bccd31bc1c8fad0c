package e2e

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// finishedPod is a restartPolicy Never pod with a sidecar that says when
// it is stopped and an app container that runs the given script.
func finishedPod(name, script string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
spec:
  hostNetwork: true
  restartPolicy: Never
  terminationGracePeriodSeconds: 5
  initContainers:
  - name: side
    image: %[2]s
    imagePullPolicy: IfNotPresent
    restartPolicy: Always
    command: ["sh", "-c", "trap 'echo side-stopped; exit 0' TERM; while true; do sleep 0.1; done"]
  containers:
  - name: main
    image: %[2]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", %[3]q]
`, name, busybox, script)
}

// stoppedPod waits until pod name has one sandbox, stopped, in which every
// container exited, and returns it.
func (e *env) stoppedPod(name string) pod {
	e.t.Helper()
	var p pod
	eventually(e.t, time.Minute, "the pod's one sandbox stopped with every container exited", func() bool {
		p = e.pod(name)
		if len(p.sandboxes) != 1 || p.sandboxes[0].State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY || len(p.containers) != 2 {
			return false
		}
		for _, c := range p.containers {
			if c.State != runtimeapi.ContainerState_CONTAINER_EXITED {
				return false
			}
		}
		return true
	})
	return p
}

// containerIDs lists the IDs of the containers of p, sorted.
func containerIDs(p pod) []string {
	var out []string
	for _, c := range p.containers {
		out = append(out, c.Id)
	}
	slices.Sort(out)
	return out
}

// A Never pod whose app container exited 0 is done, as under the kubelet:
// its sidecar gets SIGTERM and stops, its sandbox stops, nothing runs
// again, `bosun ps` says Succeeded/Completed, and a restarted bosun keeps
// it so, at most stopping the stopped sandbox again.
func TestFinishedPodStopsItsSidecarAndSandboxAndStaysDone(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("fin.yaml", finishedPod("fin", "sleep 1; echo done"))
	p := e.stoppedPod("fin")
	sb, ids := p.sandboxes[0].Id, containerIDs(p)
	eventually(t, time.Minute, "bosun's word that the pod completed", func() bool {
		return strings.Contains(e.log(), "pod completed")
	})
	eventually(t, 30*time.Second, "the sidecar's log of its SIGTERM", func() bool {
		return strings.Contains(e.logOf("fin", "side"), "side-stopped")
	})
	check := func(when string) {
		t.Helper()
		p := e.pod("fin")
		if len(p.sandboxes) != 1 || p.sandboxes[0].Id != sb || p.sandboxes[0].State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
			t.Errorf("%s: sandboxes %v, want only %s, stopped", when, p.sandboxes, sb)
		}
		if got := containerIDs(p); !slices.Equal(got, ids) {
			t.Errorf("%s: containers %v, want %v", when, got, ids)
		}
		st := e.psPods()[e.podName("fin")]
		if st.Phase != "Succeeded" || st.Reason != "Completed" {
			t.Errorf("%s: bosun ps says %s %s, want Succeeded Completed", when, st.Phase, st.Reason)
		}
	}
	mark := len(e.log())
	e.waitRelists(mark, 3)
	if calls := mutatingCalls(e.logSince(mark)); len(calls) != 0 {
		t.Errorf("calls %v for a finished pod", calls)
	}
	check("finished")

	e.stopBosun(syscall.SIGTERM)
	mark = len(e.log())
	e.startBosun()
	e.waitRelists(mark, 3)
	for _, call := range mutatingCalls(e.logSince(mark)) {
		if call != "StopPodSandbox" {
			t.Errorf("after a restart bosun made a %s call for a finished pod", call)
		}
	}
	check("after a restart")
}

// A Never pod whose sandbox dies while its container runs is done, as under
// the kubelet: the container is stopped, the dead sandbox too, and no new
// sandbox is made.
func TestNeverPodWhoseSandboxDiesIsNotRunAgain(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("once.yaml", finishedPod("once", "trap 'exit 0' TERM; while true; do sleep 0.1; done"))
	e.waitRunning("once", "main")
	sb := e.pod("once").ready()
	if err := syscall.Kill(containerPID(t, sb.Id), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p := e.stoppedPod("once")
	if p.sandboxes[0].Id != sb.Id {
		t.Errorf("sandbox %s, want only the dead one %s", p.sandboxes[0].Id, sb.Id)
	}
	eventually(t, time.Minute, "bosun's word that the pod is done", func() bool {
		return strings.Contains(e.log(), "no new sandbox")
	})
	mark := len(e.log())
	e.waitRelists(mark, 3)
	if calls := mutatingCalls(e.logSince(mark)); len(calls) != 0 {
		t.Errorf("calls %v for a pod that is done", calls)
	}
	if st := e.psPods()[e.podName("once")]; st.Phase != "Succeeded" {
		t.Errorf("bosun ps says %s, want Succeeded", st.Phase)
	}
}
