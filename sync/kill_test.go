package sync

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/prober"
	"github.com/bosun-sh/bosun/runtime"
)

// killPod is pod k of one container, main, running cmd, with spec lines
// added to its spec and container lines (a lifecycle, a probe) to main.
func killPod(t *testing.T, cmd, spec, container string) *manifest.StaticPod {
	t.Helper()
	y := strings.Replace(podYAML("k", "Always", cmd, "main"), "spec:\n", "spec:\n"+spec, 1) + container
	return load(t, "/m/k.yaml", y)
}

const (
	graceZero  = "  terminationGracePeriodSeconds: 0\n"
	preStop    = "    lifecycle:\n      preStop:\n        exec: {command: [drain]}\n"
	liveness   = "    livenessProbe:\n      exec: {command: [check]}\n"
	failedBoot = "    lifecycle:\n      postStart:\n        exec: {command: [boot]}\n      preStop:\n        exec: {command: [drain]}\n"
)

// livenessKill kills pod k's main container as a failed liveness probe
// does.
func livenessKill(h *harness, sp *manifest.StaticPod) {
	h.t.Helper()
	c := h.mustRun("k-node1/main")
	k := probeKill{c: &observedContainer{Container: runtime.Container{ID: c.Id, Name: "main"}}, spec: &sp.Pod.Spec.Containers[0],
		result: prober.Result{Kind: prober.Liveness, Message: "down"}}
	if err := h.loop.killContainer(context.Background(), podPlan{key: sp.Key(), desired: sp}, k, ""); err != nil {
		h.t.Fatal(err)
	}
}

// pastDeadline moves the clock past pod k's activeDeadlineSeconds of 60.
func pastDeadline(h *harness, _ *manifest.StaticPod) { h.clock.Step(61 * time.Second) }

// TestEveryKillRunsPreStopAndGivesAtLeastTwoSeconds holds every way a
// container is killed to the kubelet's killContainer: the preStop hook runs
// while grace is left (a pod kill has at least 1 s of it), and StopContainer
// gets what is left, never less than 2 s.
func TestEveryKillRunsPreStopAndGivesAtLeastTwoSeconds(t *testing.T) {
	for _, tc := range []struct {
		name            string
		spec, container string
		// kill kills main once it runs (nil: the creation kills it).
		kill        func(h *harness, sp *manifest.StaticPod)
		wantGrace   int64
		wantPreStop bool
	}{
		{"a removed pod with no grace period gets SIGTERM and 2 s", graceZero, "", func(h *harness, _ *manifest.StaticPod) { h.setPods() }, 2, false},
		{"a removed pod with no grace period runs its preStop hook", graceZero, preStop, func(h *harness, _ *manifest.StaticPod) { h.setPods() }, 2, true},
		{"a removed pod gets its grace period after preStop", "", preStop, func(h *harness, _ *manifest.StaticPod) { h.setPods() }, 30, true},
		{"a replaced pod with no grace period gets 2 s", graceZero, "", func(h *harness, _ *manifest.StaticPod) {
			h.setPods(killPod(h.t, "other", graceZero, ""))
		}, 2, false},
		{"a pod past its activeDeadlineSeconds with no grace period gets 2 s", graceZero + "  activeDeadlineSeconds: 60\n", "", pastDeadline, 2, false},
		{"a pod past its activeDeadlineSeconds runs its preStop hook", graceZero + "  activeDeadlineSeconds: 60\n", preStop, pastDeadline, 2, true},
		{"a container whose sandbox died gets 2 s", graceZero, "", func(h *harness, _ *manifest.StaticPod) {
			id := h.mustRun("k-node1/main").Id
			h.rt.mu.Lock()
			sb := h.rt.sandboxOf[id]
			h.rt.mu.Unlock()
			h.rt.killSandbox(sb)
		}, 2, false},
		{"a failed postStart hook runs preStop within the pod's grace period", "", failedBoot, nil, 30, true},
		{"a failed postStart hook with no grace period gets 2 s and no preStop", graceZero, failedBoot, nil, 2, false},
		{"a liveness kill with no grace period gets 2 s and no preStop", graceZero, preStop + liveness, livenessKill, 2, false},
		{"a liveness kill gets its probe's grace period after preStop", "",
			preStop + liveness + "      terminationGracePeriodSeconds: 5\n", livenessKill, 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := killPod(t, "x", tc.spec, tc.container)
			h := newHarness(t, sp)
			h.rt.execResult = map[string]int32{"main": 1} // a postStart hook fails
			h.sync()
			if tc.kill != nil {
				tc.kill(h, sp)
				h.sync()
			}
			h.rt.mu.Lock()
			defer h.rt.mu.Unlock()
			grace, stopped := h.rt.stopGrace["main"]
			if !stopped || grace != tc.wantGrace {
				t.Errorf("StopContainer(main) called %v with grace %d, want grace %d", stopped, grace, tc.wantGrace)
			}
			if ran := slices.Contains(h.rt.execs, "main:drain"); ran != tc.wantPreStop {
				t.Errorf("preStop ran %v (execs %v), want %v", ran, h.rt.execs, tc.wantPreStop)
			}
		})
	}
}
