package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// rolloutCountdown is the countdown at the end of a rollout status line.
var rolloutCountdown = regexp.MustCompile(`, \S+ left of \S+$`)

// A version with a readiness probe is complete once it is Ready, long
// before its progress deadline: `bosun rollout status` returns then,
// having printed a line only when something changed, and a successor that
// never gets Ready is rolled back to it at the successor's deadline.
//
// bosun runs with neither relists nor periodic syncs in the test's time, as
// on a runtime with a container event stream once a pod has started: what
// wakes the loop is then the container's start and its probe's verdict, and
// the sync after the verdict is the first to see the version Ready.
func TestAVersionIsCompleteWhenReadyAndItsBrokenSuccessorIsRolledBackToIt(t *testing.T) {
	e := newEnv(t, "--sync-frequency=1h", "--container-relist-period=1h")
	e.startBosun()
	port := freePort(t)
	// v1's deadline is far beyond how long the test waits for v1, so v1 is
	// complete only if being Ready makes it so.
	v1 := apiServerPod("apiserver", port, "v1", "", "bosun.dev/rollback", "true", "bosun.dev/progress-deadline", "10m")
	v2 := apiServerPod("apiserver", port, "v2", notReadyScript, "bosun.dev/rollback", "true", "bosun.dev/progress-deadline", "5s")
	h1, h2 := e.hashOf(v1), e.hashOf(v2)
	e.write("apiserver.yaml", v1)
	eventually(t, time.Minute, "bosun to know the pod", func() bool {
		_, err := e.inspectErr("apiserver")
		return err == nil
	})

	out, err := e.cliErr("rollout", "status", "kube-system/"+e.podName("apiserver"), "--timeout", "1m")
	if code := exitCodeOf(t, err); code != 0 || !strings.Contains(out, "version "+h1+" is Ready: rollout complete") {
		t.Fatalf("rollout status of v1: exit %d, want 0 and complete:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i := 1; i < len(lines); i++ {
		if rolloutCountdown.ReplaceAllString(lines[i], "") == rolloutCountdown.ReplaceAllString(lines[i-1], "") {
			t.Errorf("rollout status printed line %d although nothing but the time left changed:\n%s", i+1, out)
			break
		}
	}
	r := e.inspect("apiserver").GetRollout()
	if r.GetPhase() != "Complete" || r.GetLastReadyHash() != h1 {
		t.Fatalf("rollout of v1 %v, want complete with %s the last Ready version", r, h1)
	}
	if r.GetSinceUnixNano() >= r.GetStartedUnixNano()+(10*time.Minute).Nanoseconds() {
		t.Errorf("v1 complete at %v, not before its deadline %v", time.Unix(0, r.GetSinceUnixNano()),
			time.Unix(0, r.GetStartedUnixNano()).Add(10*time.Minute))
	}

	sb2 := e.upgrade("apiserver", v2)
	e.waitBack("apiserver", h1, sb2, time.Minute)
	r = e.inspect("apiserver").GetRollout()
	if r.GetPhase() != "RolledBack" || r.GetReason() != "ProgressDeadlineExceeded" || r.GetFileHash() != h2 || r.GetLastReadyHash() != h1 {
		t.Errorf("rollout of v2 %v, want RolledBack by ProgressDeadlineExceeded from %s to %s", r, h2, h1)
	}
}
