//go:build bench

package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileBenchWindow is how long the bench's hostile row runs.
const hostileBenchWindow = 60 * time.Second

// hostileBenchPods is how many ordinary pods run beside the hostile pod.
const hostileBenchPods = 10

// hostileIdleWindow is how long the hostile row measures bosun idle beside
// its ordinary pods first.
const hostileIdleWindow = 20 * time.Second

// hostileRow runs bosun with its defaults, but a CrashLoopBackOff of 1-2 s
// (the hostile pod's containers restart as often as they can), beside 10
// ordinary pods: first idle for 20 s, then beside the victim, the hostile
// pod and the env bomb (hostile_pod_test.go) for 60 s, and returns what
// bosun used in each. It removes its pods and stops its bosun before it
// returns, so that what the bench measures next sees a quiet machine.
func hostileRow(t *testing.T) (hostileFigures, idleUse) {
	flags := append(append([]string(nil), bosunFlags...), "--crash-loop-backoff-initial=1s", "--crash-loop-backoff-max=2s")
	e := newEnv(t, flags...)
	e.startBosun()
	var names []string
	for i := range hostileBenchPods {
		n := fmt.Sprintf("o%d", i)
		names = append(names, n)
		e.write(n+".yaml", benchPod(n, 1))
	}
	waitUntil(t, "the ordinary pods running", 2*time.Minute, pollMany, func() bool {
		for _, n := range names {
			if e.pod(n).running("main") == nil {
				return false
			}
		}
		return true
	})
	time.Sleep(3 * time.Second) // past the start's after-effects
	e.mu.Lock()
	pid := e.bosun.Process.Pid
	e.mu.Unlock()
	cpu0 := procCPU(pid)
	time.Sleep(hostileIdleWindow)
	rss, hwm := procMemory(pid)
	idle := idleUse{Pods: hostileBenchPods, Seconds: hostileIdleWindow.Seconds(),
		CPUPercent: 100 * (procCPU(pid) - cpu0).Seconds() / hostileIdleWindow.Seconds(),
		RSSMiB:     float64(rss) / 1024, MaxRSSMiB: float64(hwm) / 1024}
	e.writeHostilePods(t)
	run := e.watchHostile(2 * time.Second)
	waitUntil(t, "the hostile row's end, or bosun's exit", hostileBenchWindow+10*time.Second, pollMany, func() bool {
		return time.Since(run.began) >= hostileBenchWindow || run.dead()
	})
	f := run.finish()
	for _, n := range append(names, "victim", "hostile", "bomb") {
		e.remove(n + ".yaml")
	}
	if !f.BosunExited {
		waitUntil(t, "the hostile row's pods removed", 2*time.Minute, pollMany, func() bool {
			for _, n := range append(names, "victim", "hostile", "bomb") {
				if len(e.pod(n).sandboxes) > 0 {
					return false
				}
			}
			return true
		})
	}
	e.stopBosun(syscall.SIGTERM)
	e.removePods()
	return f, idle
}

// reportHostile prints the hostile row next to the same bosun's idle
// figures beside its 10 ordinary pods.
func reportHostile(b *strings.Builder, f *hostileFigures, idle idleUse) {
	fmt.Fprintf(b, "\nbosun beside a hostile pod (%d ordinary pods, a control-plane-like victim, the hostile pod and an env bomb; %.0f s; CrashLoopBackOff 1-2 s)\n",
		hostileBenchPods, f.Seconds)
	fmt.Fprintf(b, "%-52s %12s %16s\n", "", "hostile", fmt.Sprintf("idle (%.0f s)", idle.Seconds))
	fmt.Fprintf(b, "%-52s %12.1f %16.1f\n", "max RSS (VmRSS every 500 ms), MiB", f.MaxRSSMiB, idle.RSSMiB)
	fmt.Fprintf(b, "%-52s %12.1f %16.1f\n", "RSS peak (VmHWM), MiB", f.HWMMiB, idle.MaxRSSMiB)
	fmt.Fprintf(b, "%-52s %12.1f %16.3f\n", "CPU (utime+stime), % of a core", f.CPUPercent, idle.CPUPercent)
	fmt.Fprintf(b, "%-52s %12.2f %16s\n", "bosun's log growth (-v=0), MiB", f.LogGrowthMiB, "-")
	fmt.Fprintf(b, "%-52s %12s %16s\n", "API rounds (ps x2, inspect x2, events), failed", fmt.Sprintf("%d / %d", f.APIRounds, f.APIErrors), "-")
	fmt.Fprintf(b, "%-52s %12s %16s\n", "victim's restarts, largest exit-to-start gap s", fmt.Sprintf("%d, %.1f", f.VictimRestarts, f.MaxGapS), "-")
	fmt.Fprintf(b, "%-52s %12v %16s\n", "bosun exited", f.BosunExited, "-")
	for _, p := range f.Problems {
		fmt.Fprintf(b, "  problem: %.200s\n", p)
	}
}

// TestHostileRowOfTheBench runs the bench's hostile row alone and prints
// it (`go test -tags bench -run TestHostileRowOfTheBench`).
func TestHostileRowOfTheBench(t *testing.T) {
	f, idle := hostileRow(t)
	var b strings.Builder
	reportHostile(&b, &f, idle)
	t.Logf("%s", b.String())
	if max(f.MaxRSSMiB, f.HWMMiB) > hostileMemoryBudget>>20 {
		t.Errorf("bosun's memory beside the hostile pod: %.1f MiB, over %d MiB", max(f.MaxRSSMiB, f.HWMMiB), hostileMemoryBudget>>20)
	}
}
