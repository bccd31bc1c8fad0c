package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bosun-sh/bosun/runtime/crilog"
)

// moveClock moves the machine's wall clock by d. The first call records the
// wall clock against CLOCK_MONOTONIC and registers a cleanup that sets it
// back to that reference plus the monotonic time passed since, which undoes
// every jump exactly.
func moveClock(t *testing.T, restore *func(), d time.Duration) {
	t.Helper()
	if *restore == nil {
		var wall0, mono0 unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &wall0); err != nil {
			t.Fatal(err)
		}
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono0); err != nil {
			t.Fatal(err)
		}
		*restore = func() {
			var mono unix.Timespec
			if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
				t.Errorf("the wall clock is off and cannot be restored: %v", err)
				return
			}
			wall := unix.NsecToTimespec(wall0.Nano() + mono.Nano() - mono0.Nano())
			if err := unix.ClockSettime(unix.CLOCK_REALTIME, &wall); err != nil {
				t.Errorf("the wall clock is off and cannot be restored: %v", err)
			}
		}
		t.Cleanup(*restore)
	}
	var now unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &now); err != nil {
		t.Fatal(err)
	}
	to := unix.NsecToTimespec(now.Nano() + d.Nanoseconds())
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &to); err != nil {
		t.Fatalf("move the wall clock by %v: %v", d, err)
	}
}

// TestWallClockJumps: the wall clock jumps forward 10 minutes, during a
// pod's termination grace period, then back 40 s. No container restarts, a
// crash loop keeps its backoff, and the grace period is neither cut short
// nor stretched. It moves the machine's clock, so it runs only with
// BOSUN_E2E_CLOCK=1 (set by `make e2e`), and undoes the jumps exactly.
func TestWallClockJumps(t *testing.T) {
	if os.Getenv("BOSUN_E2E_CLOCK") != "1" {
		t.Skip("moves the machine's wall clock: runs only with BOSUN_E2E_CLOCK=1 (make e2e sets it)")
	}
	var restore func()
	e := newEnv(t)
	e.startBosun()
	e.write("steady.yaml", sleeperPod("steady", "Always"))
	e.write("crash.yaml", onePod("crash", "Always", 1, "sh", "-c", "sleep 0.2; exit 1"))
	// The grace pod's container says when its SIGTERM came, and goes on.
	e.write("grace.yaml", onePod("grace", "Always", 4, "sh", "-c", "trap 'echo got SIGTERM' TERM; sleep 3600 & wait; sleep 3600"))
	steady := e.waitRunning("steady", "main")
	graceful := e.waitRunning("grace", "main")
	graceLog := keepLog(t, filepath.Join(e.podLogDir("grace", e.pod("grace").ready().Metadata.Uid), "main", "0.log"))

	// Forward 10 minutes during the grace period: it must not end early.
	// The jump comes once the SIGTERM did (not after a guessed time), and
	// the kill is measured from the SIGTERM's log line: how late the test
	// looks cannot make a kill at the end of the grace period look early.
	deleted := time.Now()
	e.remove("grace.yaml")
	var termAt time.Time
	eventually(t, 30*time.Second, "the deleted pod's container telling of its SIGTERM", func() bool {
		termAt = criLogTime(graceLog(), "got SIGTERM")
		return !termAt.IsZero()
	})
	jumped := time.Now().Round(0) // wall clock only: compared with the runtime's times
	moveClock(t, &restore, 10*time.Minute)
	time.Sleep(2 * time.Second) // a grace period on the wall clock would end now: give it the time to kill
	if st := statusOfListed(t, graceful.Id); st != nil && st.FinishedAt != 0 {
		killed := time.Unix(0, st.FinishedAt)
		if killed.After(jumped.Add(5 * time.Minute)) {
			killed = killed.Add(-10 * time.Minute) // stamped on the moved clock
		}
		if d := killed.Sub(termAt); d < 2500*time.Millisecond {
			t.Errorf("the container was killed %v after its SIGTERM, before its 4 s grace period ended", d)
		}
	}
	eventually(t, time.Minute, "the deleted pod gone after its grace period", func() bool { return len(e.pod("grace").sandboxes) == 0 })
	if took := time.Since(deleted); took < 4*time.Second {
		t.Errorf("the deleted pod was gone %v after the deletion, within its 4 s grace period", took)
	}

	// Back 40 s: the crash loop keeps its 1-2 s backoff, it does not wait 40 s.
	moveClock(t, &restore, -40*time.Second)
	before := e.pod("crash").container("main").Metadata.Attempt
	// Within 30 s, which a backoff measured on the wall clock (40 s more) cannot meet.
	eventually(t, 30*time.Second, "two more restarts of the crash loop after the clock went back", func() bool {
		c := e.pod("crash").container("main")
		return c != nil && c.Metadata.Attempt >= before+2
	})
	if c := e.pod("steady").running("main"); c == nil || c.Id != steady.Id || c.Metadata.Attempt != 0 {
		t.Errorf("the steady pod was restarted by the clock jumps: %v, was %s", c, steady.Id)
	}
}

// criLogTime is the time stamp of the first line of a CRI log that holds
// text, zero if none does.
func criLogTime(log, text string) time.Time {
	r := crilog.NewReader(strings.NewReader(log))
	for {
		e, err := r.Next()
		if err != nil {
			return time.Time{}
		}
		if strings.Contains(string(e.Content), text) {
			return e.Time
		}
	}
}
