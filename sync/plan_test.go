package sync

import (
	"fmt"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/prober"
	"github.com/bosun-sh/bosun/runtime"
)

// instance is a container in a fake observed sandbox: name, restart count,
// and its state: "running", or the exit code of an exited one.
type instance struct {
	name  string
	rc    uint32
	state any
}

// deadSandbox is an observed sandbox of pod whose pause process died, with
// containers.
func deadSandbox(uid, hash string, attempt uint32, cs ...instance) *observedSandbox {
	s := &observedSandbox{Sandbox: runtime.Sandbox{ID: fmt.Sprintf("sb-%d", attempt), Name: "p-node1", Namespace: "default",
		UID: uid, Attempt: attempt, Hash: hash, Created: time.Unix(1_800_000_000, 0)}}
	for _, c := range cs {
		oc := &observedContainer{Container: runtime.Container{ID: fmt.Sprintf("%s-%d", c.name, c.rc), SandboxID: s.ID, Name: c.name,
			State: runtime.ContainerRunning, RestartCount: c.rc}, probe: probeView{started: true, ready: true}}
		setState(oc, c.state)
		s.containers = append(s.containers, oc)
	}
	return s
}

// setState gives an instance its state: "running", an exit code (the
// instance ran 10 s and exited 10 s ago), or one of the states below.
func setState(c *observedContainer, state any) {
	now := time.Unix(1_800_000_000, 0)
	exited := func(code int32, started, finished time.Time) {
		c.State = runtime.ContainerExited
		c.exit = &exitRecord{exit: runtime.Exit{Code: code, Started: started, Finished: finished}}
	}
	switch state {
	case "running":
	case "created":
		c.State = runtime.ContainerCreated
	case "not started": // running, its startup probe not succeeded yet
		c.probe.started = false
	case "liveness failed":
		c.probe.failed = &prober.Result{Kind: prober.Liveness, Failed: true, Message: "exit 1"}
	case "failed just now":
		exited(1, now.Add(-10*time.Second), now)
	case "long": // failed after a run longer than the backoff reset
		exited(1, now.Add(-700*time.Second), now.Add(-10*time.Second))
	default:
		exited(int32(state.(int)), now.Add(-20*time.Second), now.Add(-10*time.Second))
	}
}

// readySandbox is deadSandbox, ready.
func readySandbox(uid, hash string, attempt uint32, cs ...instance) *observedSandbox {
	s := deadSandbox(uid, hash, attempt, cs...)
	s.Ready = true
	return s
}

// testEnv is a planEnv at a fixed time with the loop's default backoff.
func testEnv(m podMemo) planEnv {
	return planEnv{now: time.Unix(1_800_000_000, 0), backoff: backoffPolicy{initial: 10 * time.Second, max: 300 * time.Second, reset: 600 * time.Second}, state: m}
}

func TestPlanAfterTheSandboxDied(t *testing.T) {
	type want struct {
		create bool
		starts []string
		finish bool
	}
	cases := []struct {
		name    string
		policy  string
		ran     []instance
		carried map[string]carriedContainer
		stopped bool
		want    want
	}{
		{name: "Never pod whose container ran gets no new sandbox and is stopped",
			policy: "Never", ran: []instance{{"a", 0, 0}, {"b", 0, 0}},
			want: want{finish: true}},
		{name: "Never pod whose container failed gets no new sandbox either",
			policy: "Never", ran: []instance{{"a", 0, 1}, {"b", 0, "running"}},
			want: want{finish: true}},
		{name: "Never pod already stopped: nothing to do",
			policy: "Never", ran: []instance{{"a", 0, 0}}, stopped: true},
		{name: "Never pod whose sandbox died before any container gets a new sandbox",
			policy: "Never",
			want:   want{create: true, starts: []string{"a", "b"}}},
		{name: "OnFailure pod whose containers all succeeded gets no new sandbox",
			policy: "OnFailure", ran: []instance{{"a", 2, 0}, {"b", 0, 0}},
			want: want{finish: true}},
		{name: "OnFailure pod runs again only the containers that did not succeed",
			policy: "OnFailure", ran: []instance{{"a", 2, 0}, {"b", 1, 1}},
			want: want{create: true, starts: []string{"b"}}},
		{name: "OnFailure container that succeeded in an earlier sandbox counts as done",
			policy: "OnFailure", ran: []instance{{"b", 3, 0}}, carried: map[string]carriedContainer{"a": {restartCount: 0, succeeded: true}},
			want: want{finish: true}},
		{name: "OnFailure pod with a running container gets a new sandbox for it",
			policy: "OnFailure", ran: []instance{{"a", 0, 0}, {"b", 0, "running"}},
			want: want{create: true, starts: []string{"b"}}},
		{name: "Always pod runs every container again",
			policy: "Always", ran: []instance{{"a", 0, 0}, {"b", 0, 0}},
			want: want{create: true, starts: []string{"a", "b"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := load(t, "/m/p.yaml", podYAML("p", tc.policy, "x", "a", "b"))
			dead := deadSandbox(sp.UID, sp.Hash, 0, tc.ran...)
			m := podMemo{carried: map[containerRef]carriedContainer{}, finished: map[string]bool{dead.ID: tc.stopped}}
			for name, c := range tc.carried {
				m.carried[containerRef{sp.UID, name}] = c
			}
			env := testEnv(m)
			p := plan(sp.Key(), sp, &observedPod{key: sp.Key(), sandboxes: []*observedSandbox{dead}}, false, env)
			var starts []string
			for _, s := range p.starts {
				starts = append(starts, s.spec.Name)
			}
			got := want{create: p.create, starts: starts, finish: p.finish == dead}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("plan = %+v, want %+v", got, tc.want)
			}
			if !p.create && len(p.kill) > 0 {
				t.Errorf("a pod that is done lost its dead sandbox (killed %d)", len(p.kill))
			}
		})
	}
}

func TestOnFailureContainerThatSucceededIsNotStartedInTheNewSandbox(t *testing.T) {
	sp := load(t, "/m/p.yaml", podYAML("p", "OnFailure", "x", "a", "b"))
	current := readySandbox(sp.UID, sp.Hash, 1, instance{"b", 2, "running"})
	env := testEnv(podMemo{carried: map[containerRef]carriedContainer{
		{sp.UID, "a"}: {restartCount: 4, succeeded: true}, {sp.UID, "b"}: {restartCount: 4}}})
	p := plan(sp.Key(), sp, &observedPod{key: sp.Key(), sandboxes: []*observedSandbox{current}}, false, env)
	if len(p.starts) != 0 {
		t.Errorf("starts %v, want none: a succeeded in the dead sandbox", p.starts)
	}
}

func TestPlanKeepsOneOfTwoReadySandboxes(t *testing.T) {
	cases := []struct {
		name         string
		older, newer []instance
		keep         string // "older" or "newer"
	}{
		{name: "a duplicate without containers beside one that runs: the running one is kept",
			older: []instance{{"a", 0, "running"}, {"b", 0, "running"}}, keep: "older"},
		{name: "the newer runs its containers, the older is empty: the newer is kept",
			newer: []instance{{"a", 0, "running"}, {"b", 0, "running"}}, keep: "newer"},
		{name: "more running containers wins over newer",
			older: []instance{{"a", 0, "running"}, {"b", 0, "running"}}, newer: []instance{{"a", 0, "running"}, {"b", 0, 1}}, keep: "older"},
		{name: "equal: the newest attempt is kept, as the kubelet does",
			older: []instance{{"a", 0, "running"}}, newer: []instance{{"a", 0, "running"}}, keep: "newer"},
		{name: "both empty: the newest attempt is kept",
			keep: "newer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := load(t, "/m/p.yaml", podYAML("p", "Always", "x", "a", "b"))
			older := deadSandbox(sp.UID, sp.Hash, 0, tc.older...)
			newer := deadSandbox(sp.UID, sp.Hash, 1, tc.newer...)
			older.Ready, newer.Ready = true, true
			env := testEnv(podMemo{})
			p := plan(sp.Key(), sp, &observedPod{key: sp.Key(), sandboxes: []*observedSandbox{newer, older}}, false, env)
			keep, kill := newer, older
			if tc.keep == "older" {
				keep, kill = older, newer
			}
			if p.create || p.sandbox != keep {
				t.Fatalf("plan keeps %v (create %v), want the %s sandbox", p.sandbox, p.create, tc.keep)
			}
			if len(p.kill) != 1 || p.kill[0] != kill {
				t.Errorf("plan kills %v, want only the other sandbox", p.kill)
			}
			for _, s := range p.starts {
				for _, c := range keep.containers {
					if c.Name == s.spec.Name && !c.Exited() {
						t.Errorf("plan starts %s again although it runs in the kept sandbox", s.spec.Name)
					}
				}
			}
		})
	}
}
