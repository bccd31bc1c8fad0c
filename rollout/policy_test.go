package rollout

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/sync"
)

const node = "n1"

// version loads a pod "api" whose container runs args, with a readiness
// probe when probe is set, and extra annotations.
func version(t *testing.T, args string, probe bool, annotations ...string) *manifest.StaticPod {
	t.Helper()
	y := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: api\n  namespace: kube-system\n"
	if len(annotations) > 0 {
		y += "  annotations:\n"
		for i := 0; i+1 < len(annotations); i += 2 {
			y += fmt.Sprintf("    %s: %q\n", annotations[i], annotations[i+1])
		}
	}
	y += "spec:\n  containers:\n  - name: api\n    image: busybox\n    args: [" + args + "]\n"
	if probe {
		y += "    readinessProbe:\n      exec: {command: [\"true\"]}\n"
	}
	p, err := manifest.Load("/etc/kubernetes/manifests/api.yaml", []byte(y), node)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// running is the loop's status of v with its sandbox created at created and
// container api in state, ready, with restarts.
func running(v *manifest.StaticPod, created time.Time, state string, ready bool, restarts uint32) *sync.PodStatus {
	c := sync.ContainerStatus{Name: "api", State: state, Ready: ready, RestartCount: restarts, StartedAt: created.Add(time.Second)}
	if !ready && state == "Running" {
		c.Probes = []sync.ProbeResult{{Kind: "readiness", Message: "exit code 1"}}
	}
	if state == "Waiting" {
		c.Reason = "CrashLoopBackOff"
		c.LastTermination = &sync.Termination{ExitCode: 2, Reason: "Error"}
	}
	return &sync.PodStatus{Namespace: v.Namespace, Name: v.Name, Hash: v.Hash, RunningHash: v.Hash, Created: created, Phase: "Running",
		Containers: []sync.ContainerStatus{c}}
}

func TestDecide(t *testing.T) {
	old := version(t, `"v1"`, true)
	bad := version(t, `"v2"`, true)
	later := version(t, `"v3"`, true)
	noProbeOld := version(t, `"v1"`, false)
	noProbe := version(t, `"v2"`, false)
	on := policy{rollback: true, deadline: 5 * time.Second}
	off := policy{rollback: false, deadline: 5 * time.Second}
	progressing := func(started time.Time) record {
		return record{lastReady: old, hash: bad.Hash, phase: PhaseProgressing, started: started}
	}
	rolledBack := record{lastReady: old, hash: bad.Hash, phase: PhaseRolledBack, reason: ReasonDeadline, message: "m", since: t0}
	// seen is the record of v as decide left it when v was first seen,
	// at t0-3s, with nothing known before.
	seen := func(v *manifest.StaticPod) record {
		rec, _, _ := decide(record{}, v, nil, on, t0.Add(-3*time.Second))
		return rec
	}
	oldReady := running(old, t0.Add(-3*time.Second), "Running", true, 0)
	// The old version still runs while the new one is asked for.
	oldRunning := running(old, t0.Add(-time.Hour), "Running", true, 0)
	oldRunning.Hash = bad.Hash

	tests := []struct {
		name string
		rec  record
		file *manifest.StaticPod
		st   *sync.PodStatus
		pol  policy
		now  time.Time
		// want
		phase   Phase
		reason  Reason
		message string
		run     *manifest.StaticPod
		wake    time.Time
		started time.Time
		// lastReady is checked when set.
		lastReady *manifest.StaticPod
	}{
		{name: "a pod seen first, before any status, runs its file and is progressing",
			file: old, pol: on, now: t0, phase: PhaseProgressing, run: old},
		{name: "the file's version that was Ready is complete",
			rec: record{lastReady: old, hash: old.Hash, phase: PhaseProgressing}, file: old, pol: on, now: t0, phase: PhaseComplete, run: old},
		{name: "a version seen Ready becomes the last Ready version",
			rec: record{hash: old.Hash, phase: PhaseProgressing}, file: old, st: running(old, t0.Add(-2*time.Second), "Running", true, 0),
			pol: on, now: t0, phase: PhaseComplete, run: old, started: t0.Add(-2 * time.Second)},
		{name: "a probed version is complete as soon as the status shows it Ready, long before its deadline",
			rec: seen(old), file: old, st: oldReady, pol: on, now: t0, phase: PhaseComplete, run: old, lastReady: old},
		{name: "an edit while the status shows the version it replaces Ready keeps that version as the last Ready one",
			rec: seen(old), file: bad, st: oldReady, pol: on, now: t0, phase: PhaseProgressing, run: bad, lastReady: old},
		{name: "an edit while the version it replaces is not Ready yet leaves nothing to roll back to",
			rec: seen(old), file: bad, st: running(old, t0.Add(-3*time.Second), "Running", false, 0), pol: on, now: t0,
			phase: PhaseProgressing, run: bad},
		{name: "an edit while a version without a readiness probe has not run for its deadline leaves nothing to roll back to",
			rec: seen(noProbeOld), file: noProbe, st: running(noProbeOld, t0.Add(-3*time.Second), "Running", true, 0), pol: on, now: t0,
			phase: PhaseProgressing, run: noProbe},
		{name: "a new version waits while the old one still runs: no window yet",
			rec: record{lastReady: old, hash: old.Hash, phase: PhaseComplete}, file: bad, st: oldRunning, pol: on, now: t0,
			phase: PhaseProgressing, run: bad},
		{name: "the window starts at the new sandbox's creation and the loop is woken at its end",
			rec: progressing(time.Time{}), file: bad, st: running(bad, t0.Add(-time.Second), "Running", false, 0), pol: on, now: t0,
			phase: PhaseProgressing, run: bad, wake: t0.Add(4 * time.Second), started: t0.Add(-time.Second)},
		{name: "not Ready at the deadline rolls back to the last Ready version",
			rec: progressing(t0.Add(-5 * time.Second)), file: bad, st: running(bad, t0.Add(-5*time.Second), "Running", false, 0), pol: on, now: t0,
			phase: PhaseRolledBack, reason: ReasonDeadline, message: "not Ready within 5s: container api not ready: readiness probe failed: exit code 1", run: old},
		{name: "after a restart of bosun the window starts at the running sandbox's creation: the same outcome",
			rec: record{lastReady: old, hash: bad.Hash, phase: PhaseProgressing}, file: bad, st: running(bad, t0.Add(-6*time.Second), "Running", false, 0),
			pol: on, now: t0, phase: PhaseRolledBack, reason: ReasonDeadline, run: old},
		{name: "after a restart of bosun within the window it is still progressing",
			rec: record{lastReady: old, hash: bad.Hash, phase: PhaseProgressing}, file: bad, st: running(bad, t0.Add(-3*time.Second), "Running", false, 0),
			pol: on, now: t0, phase: PhaseProgressing, run: bad, wake: t0.Add(2 * time.Second), started: t0.Add(-3 * time.Second)},
		{name: "without rollback enabled a version past its deadline fails and keeps running",
			rec: progressing(t0.Add(-5 * time.Second)), file: bad, st: running(bad, t0.Add(-5*time.Second), "Running", false, 0), pol: off, now: t0,
			phase: PhaseFailed, reason: ReasonDeadline, run: bad},
		{name: "with no earlier Ready version a version past its deadline fails and keeps running",
			rec: record{hash: bad.Hash, phase: PhaseProgressing, started: t0.Add(-5 * time.Second)}, file: bad, st: running(bad, t0.Add(-5*time.Second), "Running", false, 0),
			pol: on, now: t0, phase: PhaseFailed, reason: ReasonDeadline, run: bad},
		{name: "a failed version that becomes Ready is complete",
			rec: record{hash: bad.Hash, phase: PhaseFailed, reason: ReasonDeadline, started: t0.Add(-time.Minute)}, file: bad, st: running(bad, t0.Add(-time.Minute), "Running", true, 0),
			pol: on, now: t0, phase: PhaseComplete, run: bad, started: t0.Add(-time.Minute)},
		{name: "CrashLoopBackOff rolls back before the deadline",
			rec: progressing(t0.Add(-2 * time.Second)), file: bad, st: running(bad, t0.Add(-2*time.Second), "Waiting", false, 2), pol: on, now: t0,
			phase: PhaseRolledBack, reason: ReasonCrashLoop, message: "container api in CrashLoopBackOff after 2 restarts, last exit code 2 (Error)", run: old},
		{name: "a rollback holds while the file is unchanged, whatever the status",
			rec: rolledBack, file: bad, st: running(old, t0, "Running", true, 0), pol: on, now: t0.Add(time.Hour),
			phase: PhaseRolledBack, reason: ReasonDeadline, message: "m", run: old},
		{name: "a later edit after a rollback is tried as usual",
			rec: rolledBack, file: later, st: running(old, t0, "Running", true, 0), pol: on, now: t0.Add(time.Hour),
			phase: PhaseProgressing, run: later},
		{name: "going back to the last Ready version by hand is complete at once",
			rec: rolledBack, file: old, pol: on, now: t0, phase: PhaseComplete, run: old},
		{name: "a dead sandbox made long ago (a reboot) does not start the window; no failure before a new one runs",
			file: old, st: func() *sync.PodStatus {
				st := running(old, t0.Add(-3*time.Hour), "Waiting", false, 0)
				st.SandboxDead = true
				st.Containers[0].Reason, st.Containers[0].LastTermination = "ContainerCreating", nil
				return st
			}(), pol: on, now: t0, phase: PhaseProgressing, run: old},
		{name: "a pod that cannot start (nothing runs) starts its window when first seen so",
			rec: progressing(time.Time{}), file: bad, st: &sync.PodStatus{Namespace: "kube-system", Name: bad.Name, Hash: bad.Hash, SyncError: "no runtime handler"},
			pol: on, now: t0, phase: PhaseProgressing, run: bad, wake: t0.Add(5 * time.Second), started: t0},
		{name: "a pod that did not start within its deadline rolls back",
			rec: progressing(t0.Add(-5 * time.Second)), file: bad, st: &sync.PodStatus{Namespace: "kube-system", Name: bad.Name, Hash: bad.Hash, SyncError: "no runtime handler"},
			pol: on, now: t0, phase: PhaseRolledBack, reason: ReasonDeadline, message: "not Ready within 5s: the pod did not start: no runtime handler", run: old},
		{name: "without a readiness probe a running container is not complete before it ran for the deadline",
			rec: record{lastReady: noProbeOld, hash: noProbe.Hash, phase: PhaseProgressing}, file: noProbe, st: running(noProbe, t0.Add(-3*time.Second), "Running", true, 0),
			pol: on, now: t0, phase: PhaseProgressing, run: noProbe, wake: t0.Add(2 * time.Second), started: t0.Add(-3 * time.Second)},
		{name: "without a readiness probe, past the window's end, a container that never restarted gets its full deadline",
			rec: record{lastReady: noProbeOld, hash: noProbe.Hash, phase: PhaseProgressing}, file: noProbe, st: running(noProbe, t0.Add(-5500*time.Millisecond), "Running", true, 0),
			pol: on, now: t0, phase: PhaseProgressing, run: noProbe, wake: t0.Add(500 * time.Millisecond), started: t0.Add(-5500 * time.Millisecond)},
		{name: "without a readiness probe, Running for the deadline without a restart is complete",
			rec: record{lastReady: noProbeOld, hash: noProbe.Hash, phase: PhaseProgressing}, file: noProbe, st: running(noProbe, t0.Add(-6*time.Second), "Running", true, 0),
			pol: on, now: t0, phase: PhaseComplete, run: noProbe, started: t0.Add(-6 * time.Second)},
		{name: "without a readiness probe, a restart within the window rolls back at its end",
			rec: record{lastReady: noProbeOld, hash: noProbe.Hash, phase: PhaseProgressing}, file: noProbe, st: func() *sync.PodStatus {
				st := running(noProbe, t0.Add(-5*time.Second), "Running", true, 1)
				st.Containers[0].StartedAt = t0.Add(-time.Second)
				return st
			}(),
			pol: on, now: t0, phase: PhaseRolledBack, reason: ReasonDeadline, message: "not Ready within 5s: container api restarted 1 times", run: noProbeOld},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, run, wake := decide(tc.rec, tc.file, tc.st, tc.pol, tc.now)
			if got.phase != tc.phase || got.reason != tc.reason {
				t.Errorf("phase %s %s, want %s %s (message %q)", got.phase, got.reason, tc.phase, tc.reason, got.message)
			}
			if tc.message != "" && got.message != tc.message {
				t.Errorf("message %q, want %q", got.message, tc.message)
			}
			if run != tc.run {
				t.Errorf("runs %s, want %s", run.Hash, tc.run.Hash)
			}
			if !wake.Equal(tc.wake) {
				t.Errorf("wake %v, want %v", wake, tc.wake)
			}
			if !got.started.Equal(tc.started) && got.phase == PhaseProgressing {
				t.Errorf("started %v, want %v", got.started, tc.started)
			}
			if tc.lastReady != nil && got.lastReady != tc.lastReady {
				t.Errorf("the last Ready version is %v, want %s", got.lastReady, tc.lastReady.Hash)
			}
			if tc.lastReady == nil && tc.rec.lastReady == nil && got.phase != PhaseComplete && got.lastReady != nil {
				t.Errorf("the last Ready version is %s, want none", got.lastReady.Hash)
			}
			if got.phase == PhaseComplete && got.lastReady != tc.file {
				t.Errorf("complete, but the last Ready version is %v", got.lastReady)
			}
			if got.hash != tc.file.Hash {
				t.Errorf("record of %s, want the file's %s", got.hash, tc.file.Hash)
			}
		})
	}
}

func TestPolicyOf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ann     []string
		all     bool
		want    policy
		wantErr string
	}{
		{name: "no annotation and no flag: no rollback, 5m", want: policy{deadline: 5 * time.Minute}},
		{name: "the flag enables rollback", all: true, want: policy{rollback: true, deadline: 5 * time.Minute}},
		{name: "the annotation enables rollback with its deadline", ann: []string{AnnotationRollback, "true", AnnotationProgressDeadline, "90s"},
			want: policy{rollback: true, deadline: 90 * time.Second}},
		{name: "the annotation false wins over the flag", ann: []string{AnnotationRollback, "false"}, all: true, want: policy{deadline: 5 * time.Minute}},
		{name: "a malformed deadline is the default, and an error names it", ann: []string{AnnotationRollback, "true", AnnotationProgressDeadline, "5"},
			want: policy{rollback: true, deadline: 5 * time.Minute}, wantErr: `bosun.dev/progress-deadline "5": not a positive duration`},
		{name: "a malformed rollback value is an error", ann: []string{AnnotationRollback, "yes"}, want: policy{deadline: 5 * time.Minute},
			wantErr: `bosun.dev/rollback "yes": not true or false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := policyOf(version(t, `"v1"`, true, tc.ann...), tc.all)
			if got != tc.want {
				t.Errorf("policy %+v, want %+v", got, tc.want)
			}
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "kube-system/api-n1 (/etc/kubernetes/manifests/api.yaml)") {
				t.Errorf("error %v does not name the pod and file", err)
			}
		})
	}
}
