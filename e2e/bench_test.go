//go:build bench

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The benchmark (`make bench`, `make bench PEER=kubelet`): how fast bosun
// reacts and what it costs at 10, 30 and 100 pods, next to what containerd
// itself allows (the floor) and, with PEER=kubelet, next to the kubelet on
// the same containerd in the same run. It prints tables with PASS/FAIL per
// target and writes bench/results.json and bench/results.txt
// (BOSUN_BENCH_OUT). docs/performance.md says how each number is taken.

// benchSizes are the numbers of pods of the scale measurements.
var benchSizes = []int{10, 30, 100}

// inFlight are the parallelisms of the floor; 0 stands for all at once.
var inFlight = []int{1, 2, 4, 8, 0}

// benchPlan is how many runs each subject gets; the kubelet gets fewer where
// it is slow, to keep `make bench PEER=kubelet` within about 15 minutes.
type benchPlan struct {
	create, restart, replace, remove int
	bursts                           map[int]int
	idle                             map[int]time.Duration
	replaceLimit                     time.Duration
}

var (
	bosunPlan = benchPlan{create: 20, restart: 10, replace: 10, remove: 10,
		bursts:       map[int]int{10: 3, 30: 3, 100: 2},
		idle:         map[int]time.Duration{10: 20 * time.Second, 30: 20 * time.Second, 100: 60 * time.Second},
		replaceLimit: 30 * time.Second}
	altPlan = benchPlan{create: 20, replace: 10,
		bursts:       map[int]int{10: 3, 30: 3, 100: 2},
		idle:         map[int]time.Duration{10: 5 * time.Second, 30: 5 * time.Second, 100: 20 * time.Second},
		replaceLimit: 30 * time.Second}
	kubeletPlan = benchPlan{create: 10, restart: 10, replace: 3, remove: 5,
		bursts:       map[int]int{10: 2, 30: 2, 100: 1},
		idle:         map[int]time.Duration{10: 20 * time.Second, 30: 20 * time.Second, 100: 60 * time.Second},
		replaceLimit: 90 * time.Second}
)

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

// subjectResult is what one subject measured.
type subjectResult struct {
	Name    string `json:"name"`
	Create  stat   `json:"create"`
	Restart stat   `json:"restart"`
	Replace stat   `json:"replace"`
	Remove  stat   `json:"remove"`
	// By number of pods.
	Burst      map[int]stat    `json:"burst"`
	RemoveAll  map[int]stat    `json:"remove_all"`
	Idle       map[int]idleUse `json:"idle"`
	Adopt      map[int]stat    `json:"adopt,omitempty"`
	AdoptMut   map[int]int     `json:"adopt_mutating_calls,omitempty"`
	RelistMS   map[int]float64 `json:"relist_ms,omitempty"`
	ListPairMS map[int]float64 `json:"cri_list_pair_ms,omitempty"`
	// BurstCalls are bosun's CRI calls during the bursts of each size (all
	// runs), from its metrics; BurstWallMS the bursts' total time.
	BurstCalls  map[int]callSums `json:"burst_calls,omitempty"`
	CreateCalls callSums         `json:"create_calls,omitempty"`
	// ReplaceCalls are bosun's CRI calls over the replace runs (one more
	// create and removal of the pod "r" among them).
	ReplaceCalls callSums        `json:"replace_calls,omitempty"`
	BurstWallMS  map[int]float64 `json:"burst_wall_ms,omitempty"`
}

type results struct {
	Machine    map[string]string        `json:"machine"`
	Containerd string                   `json:"containerd"`
	StartedAt  time.Time                `json:"started_at"`
	DurationS  float64                  `json:"duration_s"`
	Load       [2]string                `json:"loadavg_start_end"`
	Floor      stat                     `json:"floor"`
	FloorCalls callSums                 `json:"floor_calls"`
	Elements   []stat                   `json:"floor_elements"`
	Grid       map[int]map[int]float64  `json:"parallel_floor_ms"` // pods -> in flight (0: all) -> ms
	GridCalls  map[int]map[int]callSums `json:"parallel_floor_calls"`
	Subjects   []*subjectResult         `json:"subjects"`
	// Hostile is bosun beside the hostile pod, HostileIdle the same
	// bosun before it, beside the same ordinary pods (bench_hostile_test.go).
	Hostile     *hostileFigures `json:"hostile,omitempty"`
	HostileIdle *idleUse        `json:"hostile_idle,omitempty"`
	Targets     []target        `json:"targets"`
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func TestBench(t *testing.T) {
	peer := os.Getenv("BOSUN_BENCH_PEER")
	if peer != "" && peer != "kubelet" {
		t.Fatalf("BOSUN_BENCH_PEER=%q: the only peer is kubelet", peer)
	}
	began := time.Now()
	res := &results{StartedAt: began, Grid: map[int]map[int]float64{}, GridCalls: map[int]map[int]callSums{}}
	res.Load[0] = loadavg()
	host, _ := os.Hostname()
	kernel, _ := exec.Command("uname", "-r").Output()
	cdv, _ := exec.Command("containerd", "--version").Output()
	res.Containerd = strings.TrimSpace(string(cdv))
	res.Machine = map[string]string{"hostname": host, "kernel": strings.TrimSpace(string(kernel)), "cores": strconv.Itoa(runtime.NumCPU()), "go": runtime.Version()}

	// 1. bosun, idle beside the floor's pods (not its own: it leaves them
	// alone), then the floor of each config element alone and of bosun's
	// configs; the parallel floor of each size just before bosun's bursts
	// of that size, so that the two see the machine in the same state.
	b := startBosunSubject(t)
	f := newFloorEnv(t)
	for i := range floorElements {
		el := floorElements[i]
		ds, _ := f.sequential(t, fmt.Sprintf("e%d", i), &el, 6)
		res.Elements = append(res.Elements, summarize(el.name, ds))
	}
	ds, calls := f.sequential(t, "full", nil, 15)
	res.Floor, res.FloorCalls = summarize("floor: bosun's configs and files, RunPodSandbox+CreateContainer+StartContainer", ds), calls
	t.Logf("floor p50 %.1f ms (bare %.1f ms)", res.Floor.P50MS, res.Elements[0].P50MS)
	grid := func(n int) {
		res.Grid[n], res.GridCalls[n] = map[int]float64{}, map[int]callSums{}
		for _, k := range inFlight {
			all := k
			if k == 0 {
				all = n
			}
			d, calls := f.parallel(t, n, all)
			res.Grid[n][k], res.GridCalls[n][k] = float64(d.Microseconds())/1000, calls
		}
		t.Logf("parallel floor, %d pods (1, 2, 4, 8, all in flight): %v ms", n, res.Grid[n])
	}
	res.Subjects = append(res.Subjects, measure(t, b, bosunPlan, grid))
	b.e.stopBosun(syscall.SIGTERM)

	// 1a. bosun beside the hostile pod, its pods removed before what comes next.
	hostile, hostileIdle := hostileRow(t)
	res.Hostile, res.HostileIdle = &hostile, &hostileIdle
	t.Logf("bosun beside the hostile pod: %s", hostile)

	// 1b. Another build of bosun (BOSUN_BENCH_ALT: a binary), right after,
	// to try a change against the same machine state.
	if alt := os.Getenv("BOSUN_BENCH_ALT"); alt != "" {
		own := bosunBin
		bosunBin = alt
		a := startBosunSubject(t)
		a.name = "bosun-alt"
		res.Subjects = append(res.Subjects, measure(t, a, altPlan, nil))
		a.e.stopBosun(syscall.SIGTERM)
		bosunBin = own
	}

	// 2. The kubelet, after bosun: never both at once on one containerd (a
	// kubelet kills the pods it did not create).
	if peer == "kubelet" {
		bin := os.Getenv("BOSUN_BENCH_KUBELET")
		if bin == "" {
			t.Fatal("BOSUN_BENCH_KUBELET: the kubelet binary (make bench PEER=kubelet builds it)")
		}
		k := startKubelet(t, bin)
		res.Subjects = append(res.Subjects, measure(t, k, kubeletPlan, nil))
	}
	res.Load[1] = loadavg()
	res.Targets = targets(res)
	res.DurationS = time.Since(began).Seconds()
	report(t, res)
}

// startBosunSubject starts bosun with its defaults (but -v=0 and loopback
// endpoints) as a subject.
func startBosunSubject(t *testing.T) *subject {
	e := newEnv(t, bosunFlags...)
	e.startBosun()
	return &subject{name: "bosun", e: e, pid: func() int { return e.bosun.Process.Pid },
		criCalls:  func(t *testing.T) map[string]float64 { return bosunCalls(t, e) },
		callTimes: func(t *testing.T) callSums { return bosunCallTimes(t, e) }}
}

// bosunCallTimes reads bosun's CRI calls and their total time by method
// from its metrics.
func bosunCallTimes(t *testing.T, e *env) callSums {
	out := callSums{}
	if f := scrape(t, e.httpAddr())["bosun_cri_call_duration_seconds"]; f != nil {
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				if lp.GetName() == "method" {
					v := out[lp.GetValue()]
					out[lp.GetValue()] = [2]float64{v[0] + float64(m.Histogram.GetSampleCount()), v[1] + 1000*m.Histogram.GetSampleSum()}
				}
			}
		}
	}
	return out
}

// bosunFlags put back bosun's defaults where the e2e harness changes them.
var bosunFlags = []string{"--crash-loop-backoff-initial=10s", "--crash-loop-backoff-max=300s", "--sync-frequency=60s", "-v=0"}

// bosunCalls reads bosun's CRI calls by method from its metrics.
func bosunCalls(t *testing.T, e *env) map[string]float64 {
	out := map[string]float64{}
	if f := scrape(t, e.httpAddr())["bosun_cri_call_duration_seconds"]; f != nil {
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				if lp.GetName() == "method" {
					out[lp.GetValue()] += float64(m.Histogram.GetSampleCount())
				}
			}
		}
	}
	return out
}

// syncHistogram is the sum (seconds) and count of bosun's syncs.
func syncHistogram(t *testing.T, e *env) (float64, float64) {
	f := scrape(t, e.httpAddr())["bosun_sync_duration_seconds"]
	if f == nil || len(f.Metric) == 0 {
		return 0, 0
	}
	h := f.Metric[0].Histogram
	return h.GetSampleSum(), float64(h.GetSampleCount())
}

var mutatingMethods = []string{"RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer", "PullImage", "UpdateContainerResources"}

// measure runs one subject through the plan: single creates with nothing
// else running, then per size (after beforeBurst, if set) a burst, (at 30
// pods) restarts, replacements and removals beside them, (bosun) restarts
// of bosun, the idle cost, and the removal of the burst.
func measure(t *testing.T, s *subject, p benchPlan, beforeBurst func(n int)) *subjectResult {
	r := &subjectResult{Name: s.name, Burst: map[int]stat{}, RemoveAll: map[int]stat{}, Idle: map[int]idleUse{},
		Adopt: map[int]stat{}, AdoptMut: map[int]int{}, RelistMS: map[int]float64{}, ListPairMS: map[int]float64{},
		BurstCalls: map[int]callSums{}, BurstWallMS: map[int]float64{}}
	var ds []time.Duration
	var before callSums
	if s.callTimes != nil {
		before = s.callTimes(t)
	}
	for i := range p.create {
		ds = append(ds, s.create(t, fmt.Sprintf("c%d", i)))
	}
	r.Create = summarize("create: manifest to container started", ds)
	if s.callTimes != nil {
		r.CreateCalls = s.callTimes(t).minus(before)
	}
	t.Logf("%s: create p50 %.1f ms", s.name, r.Create.P50MS)
	for _, n := range benchSizes {
		if beforeBurst != nil {
			beforeBurst(n)
		}
		var up, down []time.Duration
		var prefix string
		for run := range p.bursts[n] {
			prefix = fmt.Sprintf("b%dr%d-", n, run)
			if s.callTimes != nil {
				before = s.callTimes(t)
			}
			up = append(up, s.burst(t, prefix, n))
			if s.callTimes != nil {
				if r.BurstCalls[n] == nil {
					r.BurstCalls[n] = callSums{}
				}
				r.BurstCalls[n].merge(s.callTimes(t).minus(before))
				r.BurstWallMS[n] += float64(up[len(up)-1].Microseconds()) / 1000
			}
			if run < p.bursts[n]-1 {
				down = append(down, s.removeAll(t, prefix, n))
			}
		}
		r.Burst[n] = summarize(fmt.Sprintf("%d manifests to all %d started", n, n), up)
		t.Logf("%s: %d at once p50 %.1f ms", s.name, n, r.Burst[n].P50MS)
		if n == 30 {
			var names []string
			for i := range p.restart {
				names = append(names, prefix+strconv.Itoa(i))
			}
			r.Restart = summarize("restart: container exit to next container started", s.restart(t, names))
			if s.callTimes != nil {
				before = s.callTimes(t)
			}
			r.Replace = summarize("replace: changed manifest (grace 0) to new container started", s.replace(t, "r", p.replace, p.replaceLimit))
			if s.callTimes != nil {
				r.ReplaceCalls = s.callTimes(t).minus(before)
			}
			ds = nil
			for i := range p.remove {
				ds = append(ds, s.remove(t, fmt.Sprintf("d%d", i)))
			}
			r.Remove = summarize("remove: deleted manifest (grace 0) to nothing running", ds)
		}
		if s.name == "bosun" {
			adoptBosun(t, s, n, r)
		}
		var lp []time.Duration
		for range 10 {
			lp = append(lp, listPair(t))
		}
		r.ListPairMS[n] = summarize("", lp).P50MS
		time.Sleep(3 * time.Second) // past the burst's after-effects
		r.Idle[n] = s.idle(t, n, p.idle[n])
		t.Logf("%s: idle at %d pods: %+v", s.name, n, r.Idle[n])
		down = append(down, s.removeAll(t, prefix, n))
		r.RemoveAll[n] = summarize(fmt.Sprintf("%d manifests deleted to none running", n), down)
	}
	return r
}

// adoptBosun restarts bosun three times with n pods running: the time from
// its start to its first sync, the mutating CRI calls of each new process
// after that sync and three relists (none expected), and the time of a
// relist (bosun's sync: observe, plan, dispatch). Then bosun runs again
// with its usual flags.
func adoptBosun(t *testing.T, s *subject, n int, r *subjectResult) {
	e := s.e
	var ds []time.Duration
	mutating := 0
	var relistSum, relistCount float64
	for range 3 {
		e.stopBosun(syscall.SIGTERM)
		e.runFlags = append(e.runFlags, "--sync-frequency=1s")
		mark := len(e.log())
		e.startBosun()
		l := e.logSince(mark)
		started, _ := time.Parse(time.RFC3339Nano, strings.Fields(l[strings.Index(l, "=== bosun start ")+len("=== bosun start "):])[0])
		i := strings.Index(l, `msg="first sync done"`)
		syncAt, _ := time.Parse(time.RFC3339Nano, strings.TrimPrefix(strings.Fields(l[strings.LastIndex(l[:i], "time="):])[0], "time="))
		ds = append(ds, syncAt.Sub(started))
		sum0, count0 := syncHistogram(t, e)
		waitUntil(t, "three relists", 30*time.Second, pollMany, func() bool { return bosunCalls(t, e)["ListContainers"] >= 4 })
		sum1, count1 := syncHistogram(t, e)
		relistSum, relistCount = relistSum+sum1-sum0, relistCount+count1-count0
		calls := bosunCalls(t, e)
		for _, m := range mutatingMethods {
			mutating += int(calls[m])
		}
		e.runFlags = e.runFlags[:len(e.runFlags)-1]
	}
	r.Adopt[n] = summarize(fmt.Sprintf("adopt: bosun start to first sync, %d pods", n), ds)
	r.AdoptMut[n] = mutating
	if relistCount > 0 {
		r.RelistMS[n] = 1000 * relistSum / relistCount
	}
	e.stopBosun(syscall.SIGTERM)
	e.startBosun()
	t.Logf("bosun: adopt at %d pods p50 %.1f ms, %d mutating calls, relist %.2f ms", n, r.Adopt[n].P50MS, mutating, r.RelistMS[n])
}

// flightName names a parallelism of the floor (0: all at once).
func flightName(k int) string {
	if k == 0 {
		return "all"
	}
	return strconv.Itoa(k)
}

// bestFloor is the fastest parallel floor for n pods and its parallelism.
func bestFloor(res *results, n int) (float64, int) {
	best, at := math.Inf(1), 0
	for _, k := range inFlight {
		if v, ok := res.Grid[n][k]; ok && v < best {
			best, at = v, k
		}
	}
	return best, at
}

func targets(res *results) []target {
	var out []target
	check := func(name string, value, limit float64, unit string) {
		out = append(out, target{Name: name, Value: value, Limit: limit, Unit: unit, Passed: value <= limit})
	}
	b := subjectNamed(res, "bosun")
	fl := res.Floor.P50MS
	check("create p50 <= floor p50 + 20 ms", b.Create.P50MS, fl+20, "ms")
	for _, n := range benchSizes {
		best, _ := bestFloor(res, n)
		check(fmt.Sprintf("%d at once <= best floor %d + 20 ms per pod", n, n), b.Burst[n].P50MS, best+20*float64(n), "ms")
	}
	best100, _ := bestFloor(res, 100)
	check("100 at once <= 1.1 x best floor 100", b.Burst[100].P50MS, 1.1*best100, "ms")
	// The floor of a replacement: the old sandbox's stop, then a creation
	// (the "same-config floor" of that operation; a creation alone
	// leaves out the stop, which no runtime client can skip).
	stop := res.FloorCalls["StopPodSandbox"]
	check("replace p50 <= grace 0 + floor StopPodSandbox + floor p50 + 100 ms", b.Replace.P50MS, stop[1]/max(stop[0], 1)+fl+100, "ms")
	check("restart p50 <= 150 ms after the exit", b.Restart.P50MS, 150, "ms")
	check("remove p50 <= grace 0 + 150 ms", b.Remove.P50MS, 150, "ms")
	check("idle CPU at 100 pods < 0.5 % of a core", b.Idle[100].CPUPercent, 0.5, "%")
	check("max RSS at 100 pods < 60 MiB", b.Idle[100].MaxRSSMiB, 60, "MiB")
	if h := res.Hostile; h != nil {
		check("max RSS beside the hostile pod <= 100 MiB", max(h.MaxRSSMiB, h.HWMMiB), hostileMemoryBudget>>20, "MiB")
	}
	check("adopt of 100 pods < 200 ms", b.Adopt[100].P50MS, 200, "ms")
	mut := 0
	for _, n := range benchSizes {
		mut += b.AdoptMut[n]
	}
	check("adopt: mutating CRI calls (9 restarts, 10-100 pods)", float64(mut), 0, "calls")
	if k := subjectNamed(res, "kubelet"); k != nil {
		check("create p50 below the kubelet's", b.Create.P50MS, k.Create.P50MS, "ms")
		for _, n := range benchSizes {
			check(fmt.Sprintf("%d at once below the kubelet's", n), b.Burst[n].P50MS, k.Burst[n].P50MS, "ms")
		}
	}
	return out
}

// subjectNamed is the result of a subject, or nil.
func subjectNamed(res *results, name string) *subjectResult {
	for _, s := range res.Subjects {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// perPod is how a value grows per pod from the smallest size to the largest.
func perPod(v map[int]float64) float64 {
	lo, hi := benchSizes[0], benchSizes[len(benchSizes)-1]
	return (v[hi] - v[lo]) / float64(hi-lo)
}

func report(t *testing.T, res *results) {
	var b strings.Builder
	fmt.Fprintf(&b, "bosun benchmark on %s (%s cores, kernel %s), %s; load average %s at the start, %s at the end; %.0f s\n",
		res.Machine["hostname"], res.Machine["cores"], res.Machine["kernel"], res.Containerd, res.Load[0], res.Load[1], res.DurationS)

	fmt.Fprintf(&b, "\nThe floor: one pod at a time over CRI (RunPodSandbox+CreateContainer+StartContainer), hostNetwork busybox\n")
	fmt.Fprintf(&b, "%-72s %5s %8s %8s %9s\n", "pod configs", "runs", "p50 ms", "p95 ms", "vs bare")
	bare := res.Elements[0].P50MS
	for _, s := range append(append([]stat(nil), res.Elements...), res.Floor) {
		fmt.Fprintf(&b, "%-72s %5d %8.1f %8.1f %+9.1f\n", s.Name, s.Runs, s.P50MS, s.P95MS, s.P50MS-bare)
	}

	fmt.Fprintf(&b, "\nThe parallel floor, bosun's configs: ms until all pods started, by pods in flight\n")
	fmt.Fprintf(&b, "%6s %9s %9s %9s %9s %9s %14s\n", "pods", "1", "2", "4", "8", "all", "best per pod")
	for _, n := range benchSizes {
		fmt.Fprintf(&b, "%6d", n)
		for _, k := range inFlight {
			fmt.Fprintf(&b, " %9.0f", res.Grid[n][k])
		}
		best, _ := bestFloor(res, n)
		fmt.Fprintf(&b, " %14.1f\n", best/float64(n))
	}

	for _, s := range res.Subjects {
		fmt.Fprintf(&b, "\n%s, by number of pods%s\n", s.Name, map[bool]string{true: " (the same containerd, the same run)", false: ""}[s.Name != "bosun"])
		fmt.Fprintf(&b, "%-44s %10s %10s %10s %12s\n", "", "10", "30", "100", "per pod")
		row := func(name, format string, v map[int]float64) {
			fmt.Fprintf(&b, "%-44s", name)
			for _, n := range benchSizes {
				fmt.Fprintf(&b, " %10s", fmt.Sprintf(format, v[n]))
			}
			if strings.HasPrefix(name, "  x ") { // a ratio does not grow per pod
				fmt.Fprintln(&b)
				return
			}
			fmt.Fprintf(&b, " %12s\n", fmt.Sprintf(format, perPod(v)))
		}
		of := func(f func(n int) float64) map[int]float64 {
			m := map[int]float64{}
			for _, n := range benchSizes {
				m[n] = f(n)
			}
			return m
		}
		row("all running, p50 ms", "%.0f", of(func(n int) float64 { return s.Burst[n].P50MS }))
		row("  x best parallel floor", "%.2f", of(func(n int) float64 { best, _ := bestFloor(res, n); return s.Burst[n].P50MS / best }))
		row("all removed (nothing running), p50 ms", "%.0f", of(func(n int) float64 { return s.RemoveAll[n].P50MS }))
		if s.Name == "bosun" {
			row("adopt: start to first sync, p50 ms", "%.1f", of(func(n int) float64 { return s.Adopt[n].P50MS }))
			row("adopt: mutating CRI calls (3 restarts)", "%.0f", of(func(n int) float64 { return float64(s.AdoptMut[n]) }))
			row("relist: one sync (observe, plan), ms", "%.2f", of(func(n int) float64 { return s.RelistMS[n] }))
		}
		row("  CRI ListPodSandbox+ListContainers, ms", "%.2f", of(func(n int) float64 { return s.ListPairMS[n] }))
		row("idle CPU, % of a core", "%.3f", of(func(n int) float64 { return s.Idle[n].CPUPercent }))
		row("RSS now, MiB", "%.1f", of(func(n int) float64 { return s.Idle[n].RSSMiB }))
		row("RSS peak (VmHWM), MiB", "%.1f", of(func(n int) float64 { return s.Idle[n].MaxRSSMiB }))
		row("CRI calls per minute, idle", "%.1f", of(func(n int) float64 { return s.Idle[n].CallsPerMin }))
	}

	if res.Hostile != nil && res.HostileIdle != nil {
		reportHostile(&b, res.Hostile, *res.HostileIdle)
	}

	fmt.Fprintf(&b, "\nWhere the time goes, one pod: mean ms per call, and the rest of the p50 (outside the CRI calls: files, events, sync)\n")
	callHeader(&b, callColumns, "p50", "rest")
	oneRow := func(name string, sums callSums, p50 float64) {
		fmt.Fprintf(&b, "%-30s", name)
		mean, _ := callCells(&b, callColumns, sums)
		fmt.Fprintf(&b, " %10.1f %10.1f\n", p50, p50-mean)
	}
	oneRow("floor, bosun's configs", res.FloorCalls, res.Floor.P50MS)
	for _, s := range res.Subjects {
		if s.CreateCalls != nil {
			oneRow(s.Name, s.CreateCalls, s.Create.P50MS)
		}
	}

	fmt.Fprintf(&b, "\nWhere the time goes, replace: mean ms per call (the floor: its removal, then a creation)\n")
	cols := []string{"StopContainer", "StopPodSandbox", "RemovePodSandbox", "RunPodSandbox", "CreateContainer", "StartContainer"}
	callHeader(&b, cols, "p50", "rest")
	fmt.Fprintf(&b, "%-30s", "floor, bosun's configs")
	mean, _ := callCells(&b, cols, res.FloorCalls)
	fmt.Fprintf(&b, " %10.1f %10.1f\n", mean+res.FloorCalls["files"][1]/res.FloorCalls["files"][0], res.FloorCalls["files"][1]/res.FloorCalls["files"][0])
	for _, s := range res.Subjects {
		if s.ReplaceCalls != nil {
			fmt.Fprintf(&b, "%-30s", s.Name)
			mean, _ := callCells(&b, cols, s.ReplaceCalls)
			fmt.Fprintf(&b, " %10.1f %10.1f\n", s.Replace.P50MS, s.Replace.P50MS-mean)
		}
	}

	fmt.Fprintf(&b, "\nWhere the time goes, n pods at once: mean ms per call, and the CRI calls in flight on average\n")
	callHeader(&b, callColumns, "List calls", "in flight")
	callRow := func(name string, sums callSums, wall float64) {
		fmt.Fprintf(&b, "%-30s", name)
		_, total := callCells(&b, callColumns, sums)
		fmt.Fprintf(&b, " %10.0f %10.1f\n", sums["ListPodSandbox"][0]+sums["ListContainers"][0], total/wall)
	}
	for _, n := range benchSizes {
		best, at := bestFloor(res, n)
		callRow(fmt.Sprintf("%d: floor, %s in flight", n, flightName(at)), res.GridCalls[n][at], best)
		if at != 0 {
			callRow(fmt.Sprintf("%d: floor, all at once", n), res.GridCalls[n][0], res.Grid[n][0])
		}
		for _, s := range res.Subjects {
			if s.BurstCalls[n] != nil {
				callRow(fmt.Sprintf("%d: %s (%d runs)", n, s.Name, s.Burst[n].Runs), s.BurstCalls[n], s.BurstWallMS[n])
			}
		}
	}

	fmt.Fprintf(&b, "\nOne pod at a time (restart, replace and remove beside 30 running pods), p50 / p95 ms (runs)\n")
	fmt.Fprintf(&b, "%-62s", "")
	for _, s := range res.Subjects {
		fmt.Fprintf(&b, " %22s", s.Name)
	}
	fmt.Fprintf(&b, " %10s\n", "floor p50")
	line := func(name string, floor float64, get func(*subjectResult) stat) {
		fmt.Fprintf(&b, "%-62s", name)
		for _, s := range res.Subjects {
			st := get(s)
			if st.Runs == 0 {
				fmt.Fprintf(&b, " %22s", "-")
				continue
			}
			fmt.Fprintf(&b, " %22s", fmt.Sprintf("%.1f / %.1f (%d)", st.P50MS, st.P95MS, st.Runs))
		}
		if math.IsNaN(floor) {
			fmt.Fprintf(&b, " %10s\n", "-")
			return
		}
		fmt.Fprintf(&b, " %10.1f\n", floor)
	}
	line("create: manifest to container started", res.Floor.P50MS, func(s *subjectResult) stat { return s.Create })
	for _, n := range benchSizes {
		best, _ := bestFloor(res, n)
		line(fmt.Sprintf("%d at once: manifests to all started", n), best, func(s *subjectResult) stat { return s.Burst[n] })
	}
	line("restart: container exit to next started", math.NaN(), func(s *subjectResult) stat { return s.Restart })
	line("replace: changed manifest (grace 0) to new container started", res.Floor.P50MS, func(s *subjectResult) stat { return s.Replace })
	line("remove: deleted manifest (grace 0) to nothing running", math.NaN(), func(s *subjectResult) stat { return s.Remove })

	fmt.Fprintf(&b, "\n")
	for _, tg := range res.Targets {
		verdict := "PASS"
		if !tg.Passed {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "%s  %-52s %10.2f %s (limit %.2f)\n", verdict, tg.Name, tg.Value, tg.Unit, tg.Limit)
	}
	fmt.Print(b.String())
	out := os.Getenv("BOSUN_BENCH_OUT")
	if out == "" {
		out = "../bench"
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "results.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "results.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// callColumns are the phases of a pod creation the report shows.
var callColumns = []string{"files", "ImageStatus", "RunPodSandbox", "CreateContainer", "StartContainer"}

func callHeader(b *strings.Builder, cols []string, extra ...string) {
	fmt.Fprintf(b, "%-30s", "")
	for _, c := range cols {
		fmt.Fprintf(b, " %15s", c)
	}
	for _, e := range extra {
		fmt.Fprintf(b, " %10s", e)
	}
	fmt.Fprintln(b)
}

// callCells prints the mean ms per call of each column ("-" when there was
// none) and returns the sum of the CRI calls' means and their total ms.
func callCells(b *strings.Builder, cols []string, sums callSums) (mean, total float64) {
	for _, c := range cols {
		v := sums[c]
		if v[0] == 0 {
			fmt.Fprintf(b, " %15s", "-")
			continue
		}
		fmt.Fprintf(b, " %15.1f", v[1]/v[0])
		if c != "files" {
			mean, total = mean+v[1]/v[0], total+v[1]
		}
	}
	return mean, total
}

// removeSandbox stops and removes a sandbox the bench made or left.
func removeSandbox(sb string) {
	_ = cri.StopPodSandbox(context.Background(), sb)
	_ = cri.RemovePodSandbox(context.Background(), sb)
}
