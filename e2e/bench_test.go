//go:build bench

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	stdsync "sync"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
	bosunruntime "github.com/bosun-sh/bosun/runtime"
)

// The benchmark of issue 6: how fast bosun reacts and what it costs, next
// to what containerd itself allows. Run it with `make bench`; it writes
// bench/results.json and prints a table with PASS/FAIL per target.

const benchRuns = 20

type stat struct {
	Name   string    `json:"name"`
	Runs   int       `json:"runs"`
	P50MS  float64   `json:"p50_ms"`
	P95MS  float64   `json:"p95_ms"`
	Values []float64 `json:"values_ms"`
}

func summarize(name string, ds []time.Duration) stat {
	ms := make([]float64, len(ds))
	for i, d := range ds {
		ms[i] = float64(d.Microseconds()) / 1000
	}
	sort.Float64s(ms)
	q := func(p float64) float64 {
		if len(ms) == 0 {
			return 0
		}
		return ms[min(len(ms)-1, int(p*float64(len(ms))))]
	}
	return stat{Name: name, Runs: len(ms), P50MS: q(0.5), P95MS: q(0.95), Values: ms}
}

type target struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Unit   string  `json:"unit"`
	Passed bool    `json:"passed"`
}

type results struct {
	Machine    map[string]string `json:"machine"`
	Timings    []stat            `json:"timings"`
	Adopt      map[string]any    `json:"adopt"`
	Idle       map[string]any    `json:"idle"`
	Targets    []target          `json:"targets"`
	StartedAt  time.Time         `json:"started_at"`
	DurationS  float64           `json:"duration_s"`
	Containerd string            `json:"containerd"`
}

func benchPod(name string, grace int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: %d
  containers:
  - name: main
    image: %s
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'exit 3' TERM; sleep 3600 & wait"]
`, name, grace, busybox)
}

// startedAt is when the running container of a pod started, per containerd.
func (e *env) startedAt(t *testing.T, pod string, notID string) (string, time.Time, bool) {
	c := e.pod(pod).running("main")
	if c == nil || c.Id == notID {
		return "", time.Time{}, false
	}
	st := status(t, c.Id)
	return c.Id, time.Unix(0, st.StartedAt), true
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("bench: timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// floor runs the same pod as bosun would, with the same CRI configs (bosun's
// translation), directly over CRI, and times it. The sandbox is returned for
// removal.
func floor(t *testing.T, name string) (time.Duration, string) {
	ctx := context.Background()
	sp, err := manifest.Load(name+".yaml", []byte(benchPod(name, 0)), "floor")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(os.TempDir(), "bosun-bench-floor")
	node := bosunruntime.Node{Name: "floor", PodLogsDir: dir, RootDir: dir, CgroupDriver: "cgroupfs"}
	cfg := bosunruntime.SandboxConfig(sp, 0, node, time.Now())
	cfg.Labels[bosunruntime.LabelManaged] = "bench" // not bosun's
	ccfg := bosunruntime.ContainerConfig(sp, &sp.Pod.Spec.Containers[0], 0, node, bosunruntime.ContainerExtras{})
	ccfg.Labels[bosunruntime.LabelManaged] = "bench"
	start := time.Now()
	sb, err := cri.RunPodSandbox(ctx, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cri.CreateContainer(ctx, sb, ccfg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := cri.StartContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	return time.Since(start), sb
}

func removeSandbox(sb string) {
	_ = cri.StopPodSandbox(context.Background(), sb)
	_ = cri.RemovePodSandbox(context.Background(), sb)
}

func procStat(pid int) (cpu time.Duration, rssKB int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		f := strings.Fields(string(b[strings.LastIndex(string(b), ")")+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ
	}
	s, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(s), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			rssKB, _ = strconv.ParseInt(strings.Fields(l)[1], 10, 64)
		}
	}
	return cpu, rssKB
}

func TestBench(t *testing.T) {
	began := time.Now()
	var res results
	res.StartedAt = began
	host, _ := os.Hostname()
	kernel, _ := exec.Command("uname", "-r").Output()
	cdv, _ := exec.Command("containerd", "--version").Output()
	res.Containerd = strings.TrimSpace(string(cdv))
	res.Machine = map[string]string{"hostname": host, "kernel": strings.TrimSpace(string(kernel)), "cores": strconv.Itoa(runtime.NumCPU()), "go": runtime.Version()}

	// 1. floor, one pod at a time and thirty at once.
	var ds []time.Duration
	_, sb := floor(t, "warmup")
	removeSandbox(sb)
	for i := range benchRuns {
		d, sb := floor(t, fmt.Sprintf("floor-%d", i))
		ds = append(ds, d)
		removeSandbox(sb)
	}
	fl := summarize("floor: RunPodSandbox+CreateContainer+StartContainer over CRI", ds)
	res.Timings = append(res.Timings, fl)
	ds = nil
	for r := range 3 {
		start := time.Now()
		sbs := make(chan string, 30)
		var wg stdsync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() { defer wg.Done(); _, sb := floor(t, fmt.Sprintf("floor30-%d-%d", r, i)); sbs <- sb }()
		}
		wg.Wait()
		ds = append(ds, time.Since(start))
		close(sbs)
		for sb := range sbs {
			removeSandbox(sb)
		}
	}
	fl30 := summarize("floor 30: thirty such pods at once over CRI", ds)
	res.Timings = append(res.Timings, fl30)

	e := newEnv(t, "--crash-loop-backoff-initial=1ms", "--crash-loop-backoff-max=1ms", "--sync-frequency=60s")
	e.startBosun()

	// 2. create one pod: manifest renamed into place until the container started.
	ds = nil
	for i := range benchRuns {
		name := fmt.Sprintf("c%d", i)
		t0 := time.Now()
		e.write(name+".yaml", benchPod(name, 0))
		var started time.Time
		waitFor(t, "create "+name, func() bool { _, s, ok := e.startedAt(t, name, ""); started = s; return ok })
		ds = append(ds, started.Sub(t0))
		e.remove(name + ".yaml")
		waitFor(t, "cleanup "+name, func() bool { return len(e.pod(name).sandboxes) == 0 })
	}
	create := summarize("create: manifest to container started", ds)
	res.Timings = append(res.Timings, create)

	// 2b. thirty pods at once.
	ds = nil
	for r := range 3 {
		t0 := time.Now()
		for i := range 30 {
			e.write(fmt.Sprintf("m%d-%d.yaml", r, i), benchPod(fmt.Sprintf("m%d-%d", r, i), 0))
		}
		var last time.Time
		waitFor(t, "30 pods", func() bool {
			cs, err := cri.ListContainers(context.Background(), map[string]string{bosunruntime.LabelManaged: "true"})
			if err != nil {
				return false
			}
			n := 0
			for _, c := range cs {
				if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING && strings.HasPrefix(c.Labels[bosunruntime.LabelPodName], fmt.Sprintf("m%d-", r)) {
					n++
				}
			}
			return n == 30
		})
		for i := range 30 {
			if _, s, ok := e.startedAt(t, fmt.Sprintf("m%d-%d", r, i), ""); ok && s.After(last) {
				last = s
			}
		}
		ds = append(ds, last.Sub(t0))
		if r < 2 {
			for i := range 30 {
				e.remove(fmt.Sprintf("m%d-%d.yaml", r, i))
			}
			waitFor(t, "30 pods removed", func() bool {
				sbs, _ := cri.ListPodSandbox(context.Background(), bosunruntime.ManagedSelector())
				return len(sbs) == 0
			})
		}
	}
	create30 := summarize("create 30: 30 manifests to all 30 started", ds)
	res.Timings = append(res.Timings, create30)

	// 30 pods (m2-*) run now; the rest run beside them.
	// 3. replace: a changed manifest (grace 0) until the new container started.
	ds = nil
	e.write("r.yaml", benchPod("r", 0))
	var id string
	waitFor(t, "r", func() bool { i, _, ok := e.startedAt(t, "r", ""); id = i; return ok })
	for i := range benchRuns {
		m := strings.Replace(benchPod("r", 0), "sleep 3600", "sleep "+strconv.Itoa(3601+i), 1)
		sp, err := manifest.Load("r.yaml", []byte(m), e.node)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		e.write("r.yaml", m)
		var started time.Time
		waitFor(t, "replace", func() bool {
			c := e.pod("r").running("main")
			if c == nil || c.Labels[bosunruntime.LabelPodUID] != sp.UID {
				return false
			}
			id, started = c.Id, time.Unix(0, status(t, c.Id).StartedAt)
			return true
		})
		ds = append(ds, started.Sub(t0))
	}
	replace := summarize("replace: changed manifest (grace 0) to new container started", ds)
	res.Timings = append(res.Timings, replace)

	// 4. restart: a container killed until its next instance started.
	ds = nil
	waitFor(t, "r", func() bool { i, _, ok := e.startedAt(t, "r", ""); id = i; return ok })
	for range benchRuns {
		// The container's shell exits on SIGTERM.
		if _, _, err := cri.ExecSync(context.Background(), id, []string{"kill", "1"}, 5*time.Second); err != nil {
			t.Fatalf("kill: %v", err)
		}
		old := id
		var started time.Time
		waitFor(t, "restart", func() bool { i, s, ok := e.startedAt(t, "r", old); started = s; id = i; return ok })
		finished := time.Unix(0, status(t, old).FinishedAt)
		ds = append(ds, started.Sub(finished))
	}
	restart := summarize("restart: container exit to next container started", ds)
	res.Timings = append(res.Timings, restart)

	// 5. remove: deleted manifest (grace 0) until the sandbox is gone.
	ds = nil
	for i := range benchRuns {
		name := fmt.Sprintf("d%d", i)
		e.write(name+".yaml", benchPod(name, 0))
		waitFor(t, name, func() bool { _, _, ok := e.startedAt(t, name, ""); return ok })
		t0 := time.Now()
		e.remove(name + ".yaml")
		waitFor(t, "remove", func() bool { return len(e.pod(name).sandboxes) == 0 })
		ds = append(ds, time.Since(t0))
	}
	remove := summarize("remove: deleted manifest (grace 0) to sandbox gone", ds)
	res.Timings = append(res.Timings, remove)
	e.remove("r.yaml")
	waitFor(t, "r removed", func() bool { return len(e.pod("r").sandboxes) == 0 })

	// 6. adopt: bosun restarted with 30 pods running.
	var adoptMS []time.Duration
	mutating := 0
	for range 5 {
		e.stopBosun(syscall.SIGTERM)
		mark := len(e.log())
		e.startBosun()
		// From the harness starting the process to bosun's "first sync done".
		l := e.logSince(mark)
		started, _ := time.Parse(time.RFC3339Nano, strings.Fields(l[strings.Index(l, "=== bosun start ")+len("=== bosun start "):])[0])
		i := strings.Index(l, `msg="first sync done"`)
		syncAt, _ := time.Parse(time.RFC3339Nano, strings.TrimPrefix(strings.Fields(l[strings.LastIndex(l[:i], "time="):])[0], "time="))
		adoptMS = append(adoptMS, syncAt.Sub(started))
		e.waitRelists(mark, 2)
		mutating += len(mutatingCalls(e.logSince(mark)))
	}
	adopt := summarize("adopt: bosun start to first full sync, 30 pods", adoptMS)
	res.Timings = append(res.Timings, adopt)
	res.Adopt = map[string]any{"pods": 30, "mutating_cri_calls": mutating}

	// 7. idle: 30 pods for 60 s, bosun at its default verbosity.
	e.stopBosun(syscall.SIGTERM)
	e.runFlags = append(e.runFlags, "-v=0")
	e.startBosun()
	time.Sleep(3 * time.Second)
	pid := e.bosun.Process.Pid
	scrapeCalls := func() float64 {
		mf := scrape(t, e.httpAddr())
		total := 0.0
		if f := mf["bosun_cri_call_duration_seconds"]; f != nil {
			for _, m := range f.Metric {
				total += float64(m.Histogram.GetSampleCount())
			}
		}
		return total
	}
	lists := func() float64 {
		mf := scrape(t, e.httpAddr())
		total := 0.0
		if f := mf["bosun_cri_call_duration_seconds"]; f != nil {
			for _, m := range f.Metric {
				for _, lp := range m.Label {
					if lp.GetName() == "method" && strings.HasPrefix(lp.GetValue(), "List") {
						total += float64(m.Histogram.GetSampleCount())
					}
				}
			}
		}
		return total
	}
	cpu0, _ := procStat(pid)
	calls0, lists0 := scrapeCalls(), lists()
	const idle = 60 * time.Second
	time.Sleep(idle)
	cpu1, rss := procStat(pid)
	calls1, lists1 := scrapeCalls(), lists()
	cpuPct := 100*cpu1.Seconds() - 100*cpu0.Seconds()
	cpuPct /= idle.Seconds()
	callsPerMin := (calls1 - calls0) * 60 / idle.Seconds()
	res.Idle = map[string]any{"pods": 30, "seconds": idle.Seconds(), "cpu_percent_of_one_core": cpuPct, "max_rss_mib": float64(rss) / 1024,
		"cri_calls_per_minute": callsPerMin, "list_calls_per_minute": (lists1 - lists0) * 60 / idle.Seconds()}

	// Targets.
	check := func(name string, value, limit float64, unit string) {
		res.Targets = append(res.Targets, target{Name: name, Value: value, Limit: limit, Unit: unit, Passed: value <= limit})
	}
	check("create p50 <= floor p50 + 50 ms", create.P50MS, fl.P50MS+50, "ms")
	check("30 pods all running <= 0.7 x 30 x floor p50", create30.P50MS, 0.7*30*fl.P50MS, "ms")
	check("30 pods all running <= floor 30 p50 + 150 ms", create30.P50MS, fl30.P50MS+150, "ms")
	check("restart p50 <= 150 ms after the exit", restart.P50MS, 150, "ms")
	check("replace p50 <= grace + floor p50 + 150 ms", replace.P50MS, fl.P50MS+150, "ms")
	check("remove p50 <= grace + 150 ms", remove.P50MS, 150, "ms")
	check("adopt: mutating CRI calls", float64(mutating), 0, "calls")
	check("adopt: first sync <= 200 ms after start", adopt.P50MS, 200, "ms")
	check("idle CPU <= 0.5 % of one core", cpuPct, 0.5, "%")
	check("idle RSS <= 40 MiB", float64(rss)/1024, 40, "MiB")
	// The relist period is 1 s without events; with them it is --sync-frequency (60 s).
	check("idle List calls per minute <= 2 per relist period", (lists1-lists0)*60/idle.Seconds(), 2*60, "calls/min")
	res.DurationS = time.Since(began).Seconds()

	// Report.
	var b strings.Builder
	fmt.Fprintf(&b, "bosun benchmark on %s (%s cores, kernel %s), %s\n\n", host, res.Machine["cores"], res.Machine["kernel"], res.Containerd)
	fmt.Fprintf(&b, "%-64s %6s %9s %9s %7s\n", "timing", "runs", "p50 ms", "p95 ms", "x floor")
	for _, s := range res.Timings {
		fmt.Fprintf(&b, "%-64s %6d %9.1f %9.1f %7.2f\n", s.Name, s.Runs, s.P50MS, s.P95MS, s.P50MS/fl.P50MS)
	}
	fmt.Fprintf(&b, "\nadopt: %d mutating CRI calls over 5 restarts with 30 pods\n", mutating)
	fmt.Fprintf(&b, "idle, 30 pods, %.0f s: CPU %.3f %% of a core, max RSS %.1f MiB, %.1f CRI calls/min (%.1f List)\n\n",
		idle.Seconds(), cpuPct, float64(rss)/1024, callsPerMin, (lists1-lists0)*60/idle.Seconds())
	for _, tg := range res.Targets {
		verdict := "PASS"
		if !tg.Passed {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "%s  %-50s %10.2f %s (limit %.2f)\n", verdict, tg.Name, tg.Value, tg.Unit, tg.Limit)
	}
	fmt.Print(b.String())
	out := os.Getenv("BOSUN_BENCH_OUT")
	if out == "" {
		out = "../bench"
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "results.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "results.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
