package main

import (
	"testing"
	"time"

	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
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
