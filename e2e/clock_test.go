package e2e

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
	e.write("grace.yaml", onePod("grace", "Always", 4, "sh", "-c", "trap '' TERM; sleep 3600 & wait; sleep 3600"))
	steady := e.waitRunning("steady", "main")
	graceful := e.waitRunning("grace", "main")

	// Forward 10 minutes during the grace period: it must not end early.
	deleted := time.Now()
	e.remove("grace.yaml")
	time.Sleep(300 * time.Millisecond)
	moveClock(t, &restore, 10*time.Minute)
	time.Sleep(time.Until(deleted.Add(2500 * time.Millisecond)))
	if st := status(t, graceful.Id); st.FinishedAt != 0 {
		t.Errorf("the container was killed %v after its pod's deletion, before its 4 s grace period", time.Unix(0, st.FinishedAt).Sub(time.Unix(0, st.StartedAt)))
	}
	eventually(t, 10*time.Second, "the deleted pod gone after its grace period", func() bool { return len(e.pod("grace").sandboxes) == 0 })
	if took := time.Since(deleted); took < 4*time.Second {
		t.Errorf("the deleted pod was gone %v after the deletion, within its 4 s grace period", took)
	}

	// Back 40 s: the crash loop keeps its 1-2 s backoff, it does not wait 40 s.
	moveClock(t, &restore, -40*time.Second)
	before := e.pod("crash").container("main").Metadata.Attempt
	eventually(t, 15*time.Second, "two more restarts of the crash loop after the clock went back", func() bool {
		c := e.pod("crash").container("main")
		return c != nil && c.Metadata.Attempt >= before+2
	})
	if c := e.pod("steady").running("main"); c == nil || c.Id != steady.Id || c.Metadata.Attempt != 0 {
		t.Errorf("the steady pod was restarted by the clock jumps: %v, was %s", c, steady.Id)
	}
}
