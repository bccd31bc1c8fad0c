package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// longFaults reports whether the long fault tests run at full length:
// BOSUN_E2E_LONG=1, which the Makefile sets for the run on containerd 1.6
// only. Otherwise they run shortened.
func longFaults() bool { return os.Getenv("BOSUN_E2E_LONG") == "1" }

// killContainerd SIGKILLs the test's containerd daemon (its shims and
// containers live on) and waits until it is gone.
func killContainerd(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(containerdDir, "containerd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill containerd %d: %v", pid, err)
	}
	eventually(t, 30*time.Second, "containerd gone", func() bool { return syscall.Kill(pid, 0) != nil })
}

func startContainerd(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("../hack/containerd.sh", "start", containerdDir).CombinedOutput(); err != nil {
		t.Fatalf("start containerd: %v\n%s", err, out)
	}
}

// runtimeUp is bosun_runtime_up, or -1 when /metrics does not answer.
func runtimeUp(t *testing.T, addr string) float64 {
	mf := scrape(t, addr)
	v, ok := value(mf, "bosun_runtime_up", nil)
	if !ok {
		return -1
	}
	return v
}

// TestContainerdKilledSixTimes: containerd SIGKILLed and started again six
// times (20 s apart with BOSUN_E2E_LONG=1, 4 s otherwise) under three running
// pods. No container is restarted; `bosun ps`, /readyz, bosun_runtime_up and
// bosun's events show the runtime down and back; a manifest changed while it is
// down is applied once it is back.
func TestContainerdKilledSixTimes(t *testing.T) {
	interval := 4 * time.Second
	if longFaults() {
		interval = 20 * time.Second
	}
	e := newEnv(t)
	e.startBosun()
	addr := e.httpAddr()
	names := []string{"ka", "kb", "kc"}
	for _, n := range names {
		e.write(n+".yaml", sleeperPod(n, "Always"))
	}
	ids := map[string]string{}
	attempts := map[string]uint32{}
	for _, n := range names {
		c := e.waitRunning(n, "main")
		ids[n], attempts[n] = c.Id, c.Metadata.Attempt
	}
	t.Cleanup(func() {
		// Never leave the shared containerd down for the next test.
		if t.Failed() {
			startContainerd(t)
		}
	})
	for round := 1; round <= 6; round++ {
		start := time.Now()
		killContainerd(t)
		eventually(t, 30*time.Second, fmt.Sprintf("round %d: /readyz and bosun_runtime_up showing the runtime down", round), func() bool {
			return httpStatus(addr+"/readyz") == http.StatusServiceUnavailable && runtimeUp(t, addr) == 0
		})
		if ps := e.cli("ps"); !strings.Contains(ps, "RUNTIME NOT READY: "+endpoint+" does not answer") {
			t.Errorf("round %d: bosun ps does not show the runtime down:\n%s", round, ps)
		}
		if round == 3 {
			// Changed while the runtime is down: applied once it is back.
			e.write("kc.yaml", onePod("kc", "Always", 1, "sleep", "3601"))
		}
		startContainerd(t)
		eventually(t, time.Minute, fmt.Sprintf("round %d: /readyz and bosun_runtime_up showing the runtime back", round), func() bool {
			return httpStatus(addr+"/readyz") == http.StatusOK && runtimeUp(t, addr) == 1
		})
		if round == 3 {
			eventually(t, time.Minute, "the change made while containerd was down applied", func() bool {
				c := e.pod("kc").running("main")
				return c != nil && c.Id != ids["kc"] && len(e.pod("kc").sandboxes) == 1
			})
			ids["kc"] = e.pod("kc").running("main").Id
		}
		if ps := e.cli("ps"); strings.Contains(ps, "RUNTIME NOT READY") {
			t.Errorf("round %d: bosun ps shows the runtime down after it is back:\n%s", round, ps)
		}
		for _, n := range names {
			p := e.pod(n)
			c := p.running("main")
			if c == nil || c.Id != ids[n] || c.Metadata.Attempt != attempts[n] || len(p.sandboxes) != 1 || len(p.containers) != 1 {
				t.Fatalf("round %d: pod %s is not running as before (container %s, attempt %d): %v", round, n, ids[n], attempts[n], p.containers)
			}
		}
		time.Sleep(time.Until(start.Add(interval)))
	}
	events := e.cli("events")
	if got := strings.Count(events, "RuntimeUnavailable"); got < 6 {
		t.Errorf("bosun events shows the runtime unavailable %d times, want 6:\n%s", got, events)
	}
	if got := strings.Count(events, "RuntimeAvailable"); got < 6 {
		t.Errorf("bosun events shows the runtime back %d times, want 6:\n%s", got, events)
	}
}
