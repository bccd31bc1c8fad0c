package server

import (
	"context"
	"testing"
	"time"

	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/rollout"
	"github.com/bosun-sh/bosun/sync"
)

// fakeState is a State with fixed pods and manifests, and events when
// history is set.
type fakeState struct {
	pods      []sync.PodStatus
	manifests []sync.ManifestStatus
	history   *sync.History
}

func (s fakeState) Pods() []sync.PodStatus           { return s.pods }
func (s fakeState) Manifests() []sync.ManifestStatus { return s.manifests }
func (s fakeState) Ready() bool                      { return true }
func (s fakeState) History() *sync.History {
	if s.history == nil {
		return sync.NewHistory()
	}
	return s.history
}

type fakeRollouts map[string]rollout.Status

func (f fakeRollouts) Status(key string) (rollout.Status, bool) { s, ok := f[key]; return s, ok }

func TestARolledBackPodShowsRolledBackAndBothHashes(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	st := fakeState{pods: []sync.PodStatus{
		{Namespace: "kube-system", Name: "api-n1", Hash: "old", RunningHash: "old", Phase: "Running", Reason: "Running"},
		{Namespace: "kube-system", Name: "etcd-n1", Hash: "e2", RunningHash: "e2", Phase: "Running", Reason: "CrashLoopBackOff"},
		{Namespace: "kube-system", Name: "sched-n1", Hash: "s1", RunningHash: "s1", Phase: "Running", Reason: "Running"},
	}}
	ro := fakeRollouts{
		"kube-system/api-n1": {Phase: rollout.PhaseRolledBack, Reason: rollout.ReasonDeadline, Message: "not Ready within 5s", FileHash: "new",
			LastReadyHash: "old", RollbackEnabled: true, ProgressDeadline: 5 * time.Second, Started: t0, Deadline: t0.Add(5 * time.Second), Since: t0.Add(5 * time.Second)},
		// A rolled back pod whose old version crash-loops shows that.
		"kube-system/etcd-n1": {Phase: rollout.PhaseRolledBack, Reason: rollout.ReasonCrashLoop, FileHash: "e3", LastReadyHash: "e2"},
	}
	s := New(st, &bosunv1.Info{Node: "n1"}, WithRollouts(ro))
	resp, err := s.ListPods(context.Background(), &bosunv1.ListPodsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	api, etcd, sched := resp.Pods[0], resp.Pods[1], resp.Pods[2]
	r := api.GetRollout()
	if api.Reason != "RolledBack" || r.GetPhase() != "RolledBack" || r.GetReason() != "ProgressDeadlineExceeded" || r.GetFileHash() != "new" ||
		r.GetRunningHash() != "old" || r.GetLastReadyHash() != "old" || r.GetProgressDeadlineSeconds() != 5 || r.GetDeadlineUnixNano() != t0.Add(5*time.Second).UnixNano() {
		t.Errorf("rolled back pod: reason %s, rollout %v", api.Reason, r)
	}
	if etcd.Reason != "CrashLoopBackOff" {
		t.Errorf("a rolled back pod that crash-loops shows %s, want CrashLoopBackOff", etcd.Reason)
	}
	if sched.Rollout != nil || sched.Reason != "Running" {
		t.Errorf("a pod without a rollout: %v, %s", sched.Rollout, sched.Reason)
	}
	p, err := s.GetPod(context.Background(), &bosunv1.GetPodRequest{Name: "api"})
	if err != nil || p.GetRollout().GetFileHash() != "new" {
		t.Errorf("GetPod: %v, %v", p, err)
	}

	held := &bosunv1.PodAction{Action: "replace", Pod: "kube-system/api-n1", RunningHash: "old", DesiredHash: "new"}
	edited := &bosunv1.PodAction{Action: "replace", Pod: "kube-system/api-n1", RunningHash: "old", DesiredHash: "newer"}
	if got := s.withoutRollbacks([]*bosunv1.PodAction{held}); len(got) != 0 {
		t.Errorf("diff shows the replacement a rollback holds back: %v", got)
	}
	if got := s.withoutRollbacks([]*bosunv1.PodAction{edited}); len(got) != 1 {
		t.Errorf("diff hides a later edit: %v", got)
	}
}
