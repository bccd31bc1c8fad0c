package main

import (
	"context"
	"path/filepath"
	stdsync "sync"
	"testing"
	"time"

	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/proto/server"
	"github.com/bosun-sh/bosun/rollout"
	"github.com/bosun-sh/bosun/sync"
)

func TestRolloutLine(t *testing.T) {
	at := time.Unix(1700000000, 0)
	pod := func(r *bosunv1.Rollout, ready ...bool) *bosunv1.Pod {
		p := &bosunv1.Pod{Namespace: "kube-system", Name: "api-n1", Rollout: r}
		for _, rd := range ready {
			p.Containers = append(p.Containers, &bosunv1.Container{Ready: rd})
		}
		return p
	}
	for _, tc := range []struct {
		name     string
		pod      *bosunv1.Pod
		want     string
		done, ok bool
	}{
		{"a pod bosun has not read", pod(nil), "pod kube-system/api-n1: bosun has not read its manifest yet", false, false},
		{"complete exits 0", pod(&bosunv1.Rollout{Phase: "Complete", FileHash: "h2"}),
			"pod kube-system/api-n1: version h2 is Ready: rollout complete", true, true},
		{"rolled back exits 1 with the reason", pod(&bosunv1.Rollout{Phase: "RolledBack", FileHash: "h2", LastReadyHash: "h1", Reason: "CrashLoopBackOff", Message: "container api in CrashLoopBackOff after 2 restarts"}),
			"pod kube-system/api-n1: version h2 rolled back to h1: CrashLoopBackOff: container api in CrashLoopBackOff after 2 restarts", true, false},
		{"failed without rollback exits 1 and says why it runs", pod(&bosunv1.Rollout{Phase: "Failed", FileHash: "h2", LastReadyHash: "h1", Reason: "ProgressDeadlineExceeded", Message: "not Ready within 5s"}),
			"pod kube-system/api-n1: version h2 failed: ProgressDeadlineExceeded: not Ready within 5s; it keeps running: rollback is not enabled (bosun.dev/rollback or --rollback-on-failure)", true, false},
		{"waiting for the old version to stop", pod(&bosunv1.Rollout{Phase: "Progressing", FileHash: "h2", RunningHash: "h1"}),
			"pod kube-system/api-n1: waiting for version h2 to start (the running version h1 stops first)", false, false},
		{"a first version waits for its start", pod(&bosunv1.Rollout{Phase: "Progressing", FileHash: "h1"}),
			"pod kube-system/api-n1: waiting for version h1 to start", false, false},
		{"progressing shows the time left", pod(&bosunv1.Rollout{Phase: "Progressing", FileHash: "h2", RunningHash: "h2", ProgressDeadlineSeconds: 300,
			StartedUnixNano: at.Add(-100 * time.Second).UnixNano(), DeadlineUnixNano: at.Add(200*time.Second + 300*time.Millisecond).UnixNano()}, true, false),
			"pod kube-system/api-n1: waiting for version h2 to be Ready: 1 of 2 containers ready, 3m20s left of 5m0s", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, done, ok := rolloutLine(tc.pod, at)
			if line != tc.want || done != tc.done || ok != tc.ok {
				t.Errorf("got %q done=%v ok=%v\nwant %q done=%v ok=%v", line, done, ok, tc.want, tc.done, tc.ok)
			}
		})
	}
}

func TestRolloutDetails(t *testing.T) {
	p := &bosunv1.Pod{Reason: "RolledBack", Rollout: &bosunv1.Rollout{Phase: "RolledBack", Reason: "ProgressDeadlineExceeded", Message: "not Ready within 5s",
		FileHash: "h2", RunningHash: "h1", LastReadyHash: "h1"}}
	got := rolloutDetails(p)
	want := [][2]string{{"Rollout", "RolledBack (ProgressDeadlineExceeded): not Ready within 5s"}, {"File hash", "h2"}, {"Running hash", "h1 (the last Ready version)"}}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
	if r := rolloutReason(p, p.GetReason()); r != "RolledBack (ProgressDeadlineExceeded)" {
		t.Errorf("ps status %q", r)
	}
	if d := rolloutDetails(&bosunv1.Pod{Rollout: &bosunv1.Rollout{Phase: "Complete", FileHash: "h1", RunningHash: "h1"}}); len(d) != 1 {
		t.Errorf("a complete rollout shows %q, want only its state", d)
	}
}

// scriptedRollout is a bosun whose pod kube-system/api-n1 and its rollout
// move one step on each GetPod (each call of Pods): steps[i] is the number
// of Ready containers (of 1) at step i, -1 for a complete rollout. The
// deadline comes one second closer at each step, as if a second passed.
type scriptedRollout struct {
	fakeState
	mu    stdsync.Mutex
	steps []int
	step  int
}

func (s *scriptedRollout) Pods() []sync.PodStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step = min(s.step+1, len(s.steps)-1)
	c := sync.ContainerStatus{Name: "api", State: "Running", Ready: s.steps[s.step] != 0}
	return []sync.PodStatus{{Namespace: "kube-system", Name: "api-n1", Hash: "h2", RunningHash: "h2", Phase: "Running",
		Containers: []sync.ContainerStatus{c}}}
}

func (s *scriptedRollout) Status(string) (rollout.Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.steps[s.step] < 0 {
		return rollout.Status{Phase: rollout.PhaseComplete, FileHash: "h2", LastReadyHash: "h2", ProgressDeadline: 5 * time.Minute}, true
	}
	return rollout.Status{Phase: rollout.PhaseProgressing, FileHash: "h2", ProgressDeadline: 5 * time.Minute,
		Started: t0, Deadline: t0.Add(5*time.Minute - time.Duration(s.step)*time.Second)}, true
}

func TestRolloutStatusPrintsALineOnlyWhenSomethingChanges(t *testing.T) {
	oldPoll, oldNow := rolloutPoll, now
	rolloutPoll, now = time.Millisecond, func() time.Time { return t0 }
	t.Cleanup(func() { rolloutPoll, now = oldPoll, oldNow })
	st := &scriptedRollout{steps: []int{0, 0, 0, 0, 0, 1, 1, 1, 1, -1}, step: -1}
	sock := filepath.Join(t.TempDir(), "api", "bosun.sock")
	l, err := server.Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		_ = server.Serve(ctx, l, server.New(st, &bosunv1.Info{Node: "n1", Version: "test"}, server.WithRollouts(st)))
	}()

	out, errOut, err := runCLI("rollout", "status", "--api-socket", sock, "api")
	want := "pod kube-system/api-n1: waiting for version h2 to be Ready: 0 of 1 containers ready, 5m0s left of 5m0s\n" +
		"pod kube-system/api-n1: waiting for version h2 to be Ready: 1 of 1 containers ready " +
		"(a container without a readiness probe counts once it has run 5m0s without a restart), 4m55s left of 5m0s\n" +
		"pod kube-system/api-n1: version h2 is Ready: rollout complete\n"
	if err != nil || out != want {
		t.Errorf("rollout status: %v %q\n%s\nwant\n%s", err, errOut, out, want)
	}
}
