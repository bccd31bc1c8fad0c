package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostileWindow is how long the hostile pod runs beside the victim.
const hostileWindow = 60 * time.Second

// TestHostileContainerCannotHurtBosun: beside a control-plane-like pod, a
// pod does at once what containers did to bosun in issue 18 (hostilePod:
// /etc/hosts truncated to 1 TiB, 9 MB redirects answering probes, a 48 MiB
// line without a newline under FallbackToLogsOnError, terminal escapes in
// termination messages, logs and probe output, links planted in its
// emptyDir and as a rotated log in the pod logs directory) and a manifest
// expands its env to 80 MiB (bombPod); bosun's --root-dir is given through
// a link. For 60 s bosun stays the same process, within 100 MiB of resident
// memory (VmRSS sampled every 500 ms, and VmHWM), answers ps, inspect and
// events every second without a raw ESC byte, restarts the victim's
// crash-looping container within its backoff + 8 s each time (the
// runtime's exit and start times), keeps the victim's web container
// running, and its log grows by less than 20 MiB. Then the hostile pod is
// deleted. No host file was copied into the logs (checked before the
// deletion, which takes the pod's logs along) or the root directory, the
// link targets are as they were, and the hostPath behind its subPath still
// holds its file.
func TestHostileContainerCannotHurtBosun(t *testing.T) {
	var realRoot string
	// Registered before newEnv's clean-up, so it runs after it: the pods'
	// mounts are below the real path, which newEnv's unmount does not see.
	t.Cleanup(func() {
		if realRoot != "" {
			unmountBelow(realRoot)
		}
	})
	e := newEnv(t)
	realRoot = filepath.Join(filepath.Dir(e.rootDir), "real-root")
	if err := os.Mkdir(realRoot, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(realRoot, e.rootDir); err != nil {
		t.Fatal(err)
	}
	e.startBosun()
	s := e.writeHostilePods(t)
	web := e.pod("victim").running("web")
	if web == nil {
		t.Fatal("the victim's web container does not run")
	}

	run := e.watchHostile(2 * time.Second) // newEnv's --crash-loop-backoff-max
	deadline := time.Now().Add(hostileWindow)
	eventually(t, hostileWindow+10*time.Second, "the hostile window's end, or bosun's exit", func() bool {
		return time.Now().After(deadline) || run.dead()
	})
	var missing []string
	if !run.dead() {
		missing = e.hostileEvidence(t)
	}
	f := run.finish()
	t.Logf("beside the hostile pod: %s", f)
	if f.BosunExited {
		l := e.logSince(int(run.log0))
		if i := strings.Index(l, "fatal error:"); i >= 0 {
			l = l[i:]
		} else if i := strings.Index(l, "panic:"); i >= 0 {
			l = l[i:]
		}
		t.Fatalf("bosun exited while the hostile pod ran; its log from its death:\n%.3000s", l)
	}
	if f.MaxRSSMiB > hostileMemoryBudget>>20 || f.HWMMiB > hostileMemoryBudget>>20 {
		t.Errorf("bosun's memory: max VmRSS %.1f MiB, VmHWM %.1f MiB, over the budget of %d MiB", f.MaxRSSMiB, f.HWMMiB, hostileMemoryBudget>>20)
	}
	if f.LogGrowthMiB > hostileLogBudget>>20 {
		t.Errorf("bosun's log grew by %.1f MiB, over %d MiB", f.LogGrowthMiB, hostileLogBudget>>20)
	} else if strings.IndexByte(e.logSince(int(run.log0)), 0x1b) >= 0 {
		t.Errorf("bosun's log holds a raw ESC")
	}
	for _, p := range f.Problems {
		t.Error(p)
	}
	if f.APIRounds < 10 {
		t.Errorf("only %d API rounds in %v", f.APIRounds, hostileWindow)
	}
	if f.VictimRestarts < 5 {
		t.Errorf("the victim's crash container restarted %d times in %v (it exits every 2 s)", f.VictimRestarts, hostileWindow)
	}
	if c := e.pod("victim").running("web"); c == nil || c.Id != web.Id {
		t.Errorf("the victim's web container was restarted or stopped: now %v, was %s", c, web.Id)
	}
	for _, m := range missing {
		t.Errorf("an attack did not happen: %s", m)
	}
	// The pod's logs go with it: look for a copy of the host file first.
	if leaks := s.leakedInto(e.logsDir); len(leaks) > 0 {
		t.Errorf("the host file was copied into the logs directory: %v", leaks)
	}

	e.remove("hostile.yaml")
	e.remove("bomb.yaml")
	eventually(t, time.Minute, "the hostile pod and the bomb gone", func() bool {
		return len(e.pod("hostile").sandboxes) == 0 && len(e.pod("bomb").sandboxes) == 0
	})
	s.h.unchanged(t)
	s.keepIntact(t)
	if leaks := s.leakedInto(realRoot); len(leaks) > 0 {
		t.Errorf("the host file was copied into the root directory: %v", leaks)
	}
}
