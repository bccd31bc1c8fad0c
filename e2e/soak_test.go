package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/runtime"
)

// soakPod is pod name at generation gen: every generation is a semantic
// change (a label), so it replaces the pod.
func soakPod(name string, gen int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels: {gen: "%d"}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
`, name, gen, busybox)
}

// usage is what bosun holds: goroutines (go_goroutines), open files and
// resident memory (from /proc).
type usage struct {
	goroutines, fds int
	rssKiB          int
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %d fds, RSS %d KiB", u.goroutines, u.fds, u.rssKiB)
}

func (e *env) usage(addr string) usage {
	e.t.Helper()
	e.mu.Lock()
	pid := e.bosun.Process.Pid
	e.mu.Unlock()
	g, _ := value(scrape(e.t, addr), "go_goroutines", nil)
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		e.t.Fatal(err)
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		e.t.Fatal(err)
	}
	u := usage{goroutines: int(g), fds: len(fds)}
	for _, l := range strings.Split(string(st), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			u.rssKiB, _ = strconv.Atoi(f[1])
		}
	}
	return u
}

// TestSoakOfManifestEdits: 200 manifest edits in 60 s (100 in 30 s without
// BOSUN_E2E_LONG=1) across 10 pods: semantic edits, renames, partial
// writes, deletes and re-adds. Then what runs is exactly what the directory
// says, and bosun's goroutines, open files and memory are back to where
// they were.
func TestSoakOfManifestEdits(t *testing.T) {
	edits, period := 100, 30*time.Second
	if longFaults() {
		edits, period = 200, 60*time.Second
	}
	e := newEnv(t)
	e.startBosun()
	addr := e.httpAddr()
	type podFile struct {
		file    string
		gen     int
		present bool
	}
	pods := map[string]*podFile{}
	var names []string
	for i := range 10 {
		n := fmt.Sprintf("soak%d", i)
		names = append(names, n)
		pods[n] = &podFile{file: n + ".yaml", present: true}
		e.write(n+".yaml", soakPod(n, 0))
	}
	for _, n := range names {
		e.settled(n)
	}
	time.Sleep(3 * time.Second) // let the start-up settle before measuring
	base := e.usage(addr)

	seed := time.Now().UnixNano()
	t.Logf("seed %d; at the start: %s", seed, base)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	ops := map[string]int{}
	start := time.Now()
	for i := range edits {
		n := names[rng.IntN(len(names))]
		pf := pods[n]
		path := filepath.Join(e.dir, pf.file)
		op := []string{"edit", "edit", "rename", "partial", "partial", "delete"}[rng.IntN(6)]
		if !pf.present {
			op = "re-add"
		}
		ops[op]++
		switch op {
		case "edit":
			pf.gen++
			e.write(pf.file, soakPod(n, pf.gen))
		case "re-add":
			pf.gen++
			pf.present = true
			e.write(pf.file, soakPod(n, pf.gen))
		case "rename":
			pf.file = fmt.Sprintf("%s-%d.yaml", n, i)
			if err := os.Rename(path, filepath.Join(e.dir, pf.file)); err != nil {
				t.Fatal(err)
			}
		case "partial":
			// Truncated, then written in two pieces.
			pf.gen++
			content := soakPod(n, pf.gen)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = f.WriteString(content[:len(content)/2])
			time.Sleep(20 * time.Millisecond)
			_, _ = f.WriteString(content[len(content)/2:])
			f.Close()
		case "delete":
			pf.present = false
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Until(start.Add(period * time.Duration(i+1) / time.Duration(edits))))
	}
	t.Logf("%d edits in %v: %v", edits, time.Since(start).Round(time.Millisecond), ops)

	eventually(t, 3*time.Minute, "what runs is what the directory says", func() bool {
		for _, n := range names {
			p := e.pod(n)
			if !pods[n].present {
				if len(p.sandboxes) != 0 {
					return false
				}
				continue
			}
			sb := p.ready()
			if len(p.sandboxes) != 1 || sb == nil || sb.Labels["gen"] != strconv.Itoa(pods[n].gen) || len(p.containers) != 1 || p.running("main") == nil {
				return false
			}
		}
		return true
	})
	converged := time.Since(start)
	all, err := cri.ListPodSandbox(t.Context(), runtime.ManagedSelector())
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range all {
		if n := strings.TrimSuffix(sb.Metadata.Name, "-"+e.node); n != sb.Metadata.Name && pods[n] == nil {
			t.Errorf("a sandbox of no manifest: %s", sb.Metadata.Name)
		}
	}

	var now usage
	eventually(t, 2*time.Minute, "goroutines, open files and memory back to where they were", func() bool {
		now = e.usage(addr)
		return now.goroutines <= base.goroutines+2 && now.fds <= base.fds+2 && now.rssKiB <= base.rssKiB*3/2
	})
	t.Logf("converged %v after the first edit; after: %s (before: %s)", converged.Round(time.Millisecond), now, base)
}
