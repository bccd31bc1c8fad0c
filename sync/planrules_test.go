package sync

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/manifest"
)

// summary prints what a plan does, in the order apply does it, with times
// relative to now.
func summary(p podPlan, now time.Time) string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	for _, s := range p.takeOver {
		add("takeOver %s", s.ID)
	}
	for _, s := range p.kill {
		add("kill %s", s.ID)
	}
	if p.keepStop {
		add("stop and keep %s", p.kept.ID)
	}
	for _, c := range p.keepRemoves {
		add("remove kept %s", c.ID)
	}
	if p.finish != nil {
		add("finish %s", p.finish.ID)
	}
	if p.create {
		add("create attempt %d", p.attempt)
	}
	for _, c := range p.stop {
		add("stop %s", c.ID)
	}
	for _, k := range p.kills {
		add("kill container %s (%s)", k.c.ID, k.result.Kind)
	}
	for _, id := range p.startCreated {
		add("start created %s", id)
	}
	for _, s := range p.starts {
		restart := ""
		if s.restart {
			restart = " restart"
		}
		if s.resetBackoff {
			restart += " reset"
		}
		add("start %s#%d%s", s.spec.Name, s.restartCount, restart)
	}
	for _, c := range p.removes {
		add("remove %s", c.ID)
	}
	if !p.wait.IsZero() {
		add("wait %s", p.wait.Sub(now))
	}
	if p.initFailed {
		add("init failed")
	}
	return strings.Join(out, "; ")
}

const initPlanPod = `apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  restartPolicy: POLICY
  initContainers:
  - {name: first, image: busybox}
  - name: side
    image: busybox
    restartPolicy: Always
    STARTUP
  containers:
  - {name: main, image: busybox}
`

// Every restart, backoff, replace, remove, init order, sidecar, liveness
// and deadline rule of plan, one row each. Instances are named
// "name-restartCount"; exited ones ended 10 s ago after a 10 s run
// (deadSandbox).
func TestPlanRules(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	twoApps := func(policy string) *manifest.StaticPod {
		return load(t, "/m/p.yaml", podYAML("p", policy, "x", "a", "b"))
	}
	initPod := func(policy string, startup bool) *manifest.StaticPod {
		y := strings.Replace(initPlanPod, "POLICY", policy, 1)
		probe := ""
		if startup {
			probe = "startupProbe: {exec: {command: [ready]}}"
		}
		return load(t, "/m/p.yaml", strings.Replace(y, "STARTUP", probe, 1))
	}
	withDeadline := load(t, "/m/p.yaml", strings.Replace(podYAML("p", "Always", "x", "a"), "spec:\n", "spec:\n  activeDeadlineSeconds: 60\n", 1))
	neverWithDeadline := load(t, "/m/p.yaml", strings.Replace(podYAML("p", "Never", "x", "a"), "spec:\n", "spec:\n  activeDeadlineSeconds: 60\n", 1))
	other := twoApps("OnFailure") // another version of the pod
	type row struct {
		name      string
		desired   *manifest.StaticPod
		sandboxes func(sp *manifest.StaticPod) []*observedSandbox
		kubelet   bool
		protected bool
		memo      func(sp *manifest.StaticPod) podMemo
		want      string
	}
	ready := func(cs ...instance) func(*manifest.StaticPod) []*observedSandbox {
		return func(sp *manifest.StaticPod) []*observedSandbox {
			return []*observedSandbox{readySandbox(sp.UID, sp.Hash, 0, cs...)}
		}
	}
	delay := func(name string, d time.Duration) func(*manifest.StaticPod) podMemo {
		return func(sp *manifest.StaticPod) podMemo {
			return podMemo{delays: map[containerRef]time.Duration{{sp.UID, name}: d}}
		}
	}
	startedAgo := func(d time.Duration) func(*manifest.StaticPod) podMemo {
		return func(*manifest.StaticPod) podMemo { return podMemo{start: now.Add(-d)} }
	}
	rows := []row{
		{name: "new pod: sandbox and every app container",
			desired: twoApps("Always"), want: "create attempt 0; start a#0; start b#0"},
		{name: "nothing to do for a pod that runs",
			desired: twoApps("Always"), sandboxes: ready(instance{"a", 0, "running"}, instance{"b", 0, "running"}), want: ""},
		{name: "restart: the first restart is at once",
			desired: twoApps("Always"), sandboxes: ready(instance{"a", 0, 1}, instance{"b", 0, "running"}), want: "start a#1 restart"},
		{name: "restart under Always after a success too",
			desired: twoApps("Always"), sandboxes: ready(instance{"a", 0, 0}, instance{"b", 0, "running"}), want: "start a#1 restart"},
		{name: "restart under OnFailure only after a failure",
			desired: twoApps("OnFailure"), sandboxes: ready(instance{"a", 0, 0}, instance{"b", 0, 2}), want: "start b#1 restart"},
		{name: "no restart under Never: once every app container exited the pod is done, its sandbox stopped and kept",
			desired: twoApps("Never"), sandboxes: ready(instance{"a", 0, 1}, instance{"b", 0, 0}), want: "finish sb-0"},
		{name: "done under OnFailure once every app container succeeded",
			desired: twoApps("OnFailure"), sandboxes: ready(instance{"a", 0, 0}, instance{"b", 1, 0}), want: "finish sb-0"},
		{name: "not done while an app container that exited waits out its backoff",
			desired: twoApps("OnFailure"), sandboxes: ready(instance{"a", 0, 0}, instance{"b", 3, 1}), memo: delay("b", 20*time.Second),
			want: "wait 10s"},
		{name: "done: an app container that succeeded in a dead sandbox under OnFailure counts as done",
			desired: twoApps("OnFailure"), sandboxes: ready(instance{"b", 1, 0}), memo: func(sp *manifest.StaticPod) podMemo {
				return podMemo{carried: map[containerRef]carriedContainer{{sp.UID, "a"}: {succeeded: true}}}
			}, want: "finish sb-0"},
		{name: "done pod: the older dead sandboxes go, the current one is finished",
			desired: twoApps("Never"), sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{readySandbox(sp.UID, sp.Hash, 1, instance{"a", 0, 0}, instance{"b", 0, 0}), deadSandbox(sp.UID, sp.Hash, 0)}
			}, want: "kill sb-0; finish sb-1"},
		{name: "done pod: its finished sandbox gets nothing more",
			desired: twoApps("Never"), sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{deadSandbox(sp.UID, sp.Hash, 0, instance{"a", 0, 1}, instance{"b", 0, 0})}
			}, memo: func(*manifest.StaticPod) podMemo { return podMemo{finished: map[string]bool{"sb-0": true}} }, want: ""},
		{name: "done pod adopted by a restarted bosun: its dead sandbox is stopped again and kept",
			desired: twoApps("Never"), sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{deadSandbox(sp.UID, sp.Hash, 0, instance{"a", 0, 1}, instance{"b", 0, 0})}
			}, want: "finish sb-0"},
		{name: "done pod: its activeDeadlineSeconds no longer counts",
			desired: neverWithDeadline, sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{deadSandbox(sp.UID, sp.Hash, 0, instance{"a", 0, 0})}
			}, memo: func(*manifest.StaticPod) podMemo {
				return podMemo{start: now.Add(-61 * time.Second), finished: map[string]bool{"sb-0": true}}
			}, want: ""},
		{name: "backoff: a later restart waits its delay after the exit",
			desired: twoApps("Always"), sandboxes: ready(instance{"a", 3, 1}, instance{"b", 0, "running"}), memo: delay("a", 20*time.Second),
			want: "wait 10s"},
		{name: "backoff: a delay that ended restarts",
			desired: twoApps("Always"), sandboxes: ready(instance{"a", 3, 1}, instance{"b", 0, "running"}), memo: delay("a", 10*time.Second),
			want: "start a#4 restart"},
		{name: "backoff: an adopted crash loop waits the initial delay",
			desired: twoApps("Always"), sandboxes: ready(instance{"a", 3, "failed just now"}, instance{"b", 0, "running"}), want: "wait 10s"},
		{name: "backoff: a first exit restarts at once even just after it",
			desired: twoApps("Always"), sandboxes: ready(instance{"a", 0, "failed just now"}, instance{"b", 0, "running"}), want: "start a#1 restart"},
		{name: "backoff: a run longer than the reset period restarts at once and forgets",
			desired: twoApps("Always"), sandboxes: ready(instance{"a", 3, "long"}, instance{"b", 0, "running"}), memo: delay("a", 300*time.Second),
			want: "start a#4 restart reset"},
		{name: "created but not started: started",
			desired: twoApps("Always"), sandboxes: ready(instance{"a", 0, "created"}, instance{"b", 0, "running"}), want: "start created a-0"},
		{name: "garbage: old instances go, the newest exited one stays",
			desired: twoApps("Always"), sandboxes: ready(instance{"a", 3, "running"}, instance{"a", 2, 1}, instance{"a", 1, 1}, instance{"b", 0, "running"}),
			want: "remove a-1"},
		{name: "replace: another version is killed before the new one is created",
			desired: twoApps("Always"), sandboxes: func(*manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{readySandbox(other.UID, other.Hash, 0, instance{"a", 0, "running"})}
			}, want: "kill sb-0; create attempt 0; start a#0; start b#0"},
		{name: "replace: the old version's sandbox left beside a new one with no containers is killed first",
			desired: twoApps("Always"), sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{readySandbox(sp.UID, sp.Hash, 0), deadSandbox(other.UID, other.Hash, 1, instance{"a", 0, 137})}
			}, want: "kill sb-1; start a#0; start b#0"},
		{name: "replace: the old version's stopped sandbox beside the running new one is removed",
			desired: twoApps("Always"), sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{readySandbox(sp.UID, sp.Hash, 0, instance{"a", 0, "running"}, instance{"b", 0, "running"}), deadSandbox(other.UID, other.Hash, 1)}
			}, want: "kill sb-1"},
		{name: "replace: a kubelet's pod of the same name is taken over",
			desired: twoApps("Always"), kubelet: true, want: "takeOver kubelet-sb; create attempt 0; start a#0; start b#0"},
		{name: "remove: no manifest kills every sandbox",
			sandboxes: func(*manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{readySandbox("u", "h", 1), deadSandbox("u", "h", 0)}
			}, want: "kill sb-1; kill sb-0"},
		{name: "remove: nothing while protected (directory unavailable, manifest broken)",
			protected: true, sandboxes: func(*manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{readySandbox("u", "h", 0, instance{"a", 0, "running"})}
			}, want: ""},
		{name: "dead sandbox: stopped and kept, a new one with attempt + 1, counts going on",
			desired: twoApps("Always"), sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{deadSandbox(sp.UID, sp.Hash, 2, instance{"a", 4, 1}, instance{"b", 0, "running"})}
			}, want: "stop and keep sb-2; create attempt 3; start a#5; start b#1"},
		{name: "dead sandbox: the kept one gets nothing more beside the running one",
			desired: twoApps("Always"), sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{readySandbox(sp.UID, sp.Hash, 1, instance{"a", 1, "running"}, instance{"b", 1, "running"}),
					deadSandbox(sp.UID, sp.Hash, 0, instance{"a", 0, 137}, instance{"b", 0, 137})}
			}, memo: func(*manifest.StaticPod) podMemo { return podMemo{keptDead: map[string]bool{"sb-0": true}} }, want: ""},
		{name: "dead sandbox: the kept one adopted by a restarted bosun is stopped again",
			desired: twoApps("Always"), sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{readySandbox(sp.UID, sp.Hash, 1, instance{"a", 1, "running"}, instance{"b", 1, "running"}),
					deadSandbox(sp.UID, sp.Hash, 0, instance{"a", 0, 137}, instance{"b", 0, 137})}
			}, want: "stop and keep sb-0"},
		{name: "dead sandbox: a second death removes the older dead one and keeps the newer",
			desired: twoApps("Always"), sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{deadSandbox(sp.UID, sp.Hash, 1, instance{"a", 1, "running"}, instance{"b", 1, "running"}),
					deadSandbox(sp.UID, sp.Hash, 0, instance{"a", 0, 137}, instance{"b", 0, 137})}
			}, memo: func(*manifest.StaticPod) podMemo { return podMemo{keptDead: map[string]bool{"sb-0": true}} },
			want: "kill sb-0; stop and keep sb-1; create attempt 2; start a#2; start b#2"},
		{name: "dead sandbox: the kept one holds the newest instance of each container, no older one",
			desired: twoApps("Always"), sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{deadSandbox(sp.UID, sp.Hash, 0, instance{"a", 1, "running"}, instance{"a", 0, 1}, instance{"b", 0, "running"})}
			}, want: "stop and keep sb-0; remove kept a-0; create attempt 1; start a#2; start b#1"},
		{name: "dead sandbox: the kept one's instance goes once the running sandbox has an exited one of the container",
			desired: twoApps("Always"), sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{readySandbox(sp.UID, sp.Hash, 1, instance{"a", 2, "running"}, instance{"a", 1, 1}, instance{"b", 1, "running"}),
					deadSandbox(sp.UID, sp.Hash, 0, instance{"a", 0, 137}, instance{"b", 0, 137})}
			}, memo: func(*manifest.StaticPod) podMemo { return podMemo{keptDead: map[string]bool{"sb-0": true}} }, want: "remove kept a-0"},
		{name: "dead sandbox: the kept one goes with its version when the pod is replaced",
			desired: twoApps("Always"), sandboxes: func(*manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{readySandbox(other.UID, other.Hash, 1, instance{"a", 1, "running"}), deadSandbox(other.UID, other.Hash, 0, instance{"a", 0, 137})}
			}, want: "kill sb-1; kill sb-0; create attempt 0; start a#0; start b#0"},
		{name: "init order: only the first init container starts with the sandbox",
			desired: initPod("Always", false), want: "create attempt 0; start first#0"},
		{name: "init order: the next one waits while one runs",
			desired: initPod("Always", false), sandboxes: ready(instance{"first", 0, "running"}), want: ""},
		{name: "init order: the next one starts once one succeeded",
			desired: initPod("Always", false), sandboxes: ready(instance{"first", 0, 0}), want: "start side#0"},
		{name: "init order: a failed init container restarts before anything else",
			desired: initPod("Always", false), sandboxes: ready(instance{"first", 0, 1}), want: "start first#1 restart"},
		{name: "init order: a failed init container fails the pod under Never, which is stopped",
			desired: initPod("Never", false), sandboxes: ready(instance{"first", 0, 1}), want: "finish sb-0; init failed"},
		{name: "sidecar: a running sidecar lets the app containers start",
			desired: initPod("Always", false), sandboxes: ready(instance{"first", 0, 0}, instance{"side", 0, "running"}), want: "start main#0"},
		{name: "sidecar: its startup probe gates the next container",
			desired: initPod("Always", true), sandboxes: ready(instance{"first", 0, 0}, instance{"side", 0, "not started"}), want: ""},
		{name: "sidecar: restarted whatever it exited with, beside running apps",
			desired: initPod("Never", false), sandboxes: ready(instance{"first", 0, 0}, instance{"side", 0, 0}, instance{"main", 0, "running"}),
			want: "start side#1 restart"},
		{name: "sidecar: stopped with the sandbox once the app containers are done",
			desired: initPod("Never", false), sandboxes: ready(instance{"first", 0, 0}, instance{"side", 0, "running"}, instance{"main", 0, 0}),
			want: "finish sb-0"},
		{name: "sidecar: not restarted once the app containers are done",
			desired: initPod("OnFailure", false), sandboxes: ready(instance{"first", 0, 0}, instance{"side", 0, 1}, instance{"main", 0, 0}),
			want: "finish sb-0"},
		{name: "sidecar: restarted beside an app container that waits to restart",
			desired: initPod("OnFailure", false), sandboxes: ready(instance{"first", 0, 0}, instance{"side", 0, 1}, instance{"main", 3, 1}),
			memo: delay("main", 20*time.Second), want: "start side#1 restart; wait 10s"},
		{name: "sidecar: a finished init container is not run again once apps ran",
			desired: initPod("Always", false), sandboxes: ready(instance{"side", 0, "running"}, instance{"main", 0, "running"}), want: ""},
		{name: "liveness: a failed probe kills the container",
			desired: twoApps("Always"), sandboxes: ready(instance{"a", 0, "liveness failed"}, instance{"b", 0, "running"}),
			want: "kill container a-0 (liveness)"},
		{name: "deadline: before it, the loop wakes at the deadline",
			desired: withDeadline, sandboxes: ready(instance{"a", 0, "running"}), memo: startedAgo(0), want: "wait 1m0s"},
		{name: "deadline: past it, running containers stop and nothing starts",
			desired: withDeadline, sandboxes: ready(instance{"a", 0, "running"}), memo: startedAgo(61 * time.Second), want: "stop a-0"},
		{name: "deadline: it counts from the first start of the pod, not from its new sandbox",
			desired: withDeadline, sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				s := readySandbox(sp.UID, sp.Hash, 1, instance{"a", 3, "running"})
				s.Created = now.Add(-time.Second)
				return []*observedSandbox{s}
			}, memo: startedAgo(61 * time.Second), want: "stop a-3"},
		{name: "deadline: past it, a dead sandbox gets no new one; it is stopped and kept",
			desired: withDeadline, sandboxes: func(sp *manifest.StaticPod) []*observedSandbox {
				return []*observedSandbox{deadSandbox(sp.UID, sp.Hash, 0, instance{"a", 0, 137})}
			}, memo: startedAgo(61 * time.Second), want: "stop and keep sb-0"},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			obs := &observedPod{key: "default/p-node1"}
			if r.sandboxes != nil {
				obs.sandboxes = r.sandboxes(r.desired)
			}
			if r.kubelet {
				obs.kubelet = []*observedSandbox{{}}
				obs.kubelet[0].ID = "kubelet-sb"
			}
			m := podMemo{}
			if r.memo != nil {
				m = r.memo(r.desired)
			}
			p := plan(obs.key, r.desired, obs, r.protected, testEnv(m))
			if got := summary(p, now); got != r.want {
				t.Errorf("plan:\n got %s\nwant %s", got, r.want)
			}
		})
	}
}
