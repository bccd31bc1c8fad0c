package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/runtime"
)

// The hostile suite (TestHostileContainerCannotHurtBosun, and the hostile
// row of `make bench`): a control-plane-like pod, the victim, beside a pod
// whose containers do at once what containers did to bosun in issue 18,
// and a manifest whose $(VAR) references expand to 80 MiB.

// hostileMemoryBudget is the most resident memory bosun may hold beside
// the hostile pod (VmRSS and VmHWM).
const hostileMemoryBudget = 100 << 20

// hostileLogBudget is how much bosun's own log may grow while the hostile
// pod runs.
const hostileLogBudget = 20 << 20

// hostileSamplePeriod is how often the hostile suite samples bosun's memory
// and the victim's instances.
const hostileSamplePeriod = 500 * time.Millisecond

// hostileRestartSlack is how late, after its longest backoff, a restart of
// the victim's crash-looping container may come.
const hostileRestartSlack = 8 * time.Second

// hugeLineBytes is the line without a newline the hugeline container writes
// before each exit (48 MiB): a log joined whole in memory is far over the
// memory budget.
const hugeLineBytes = 48 << 20

// redirectBytes is the length of the Location header the redirect
// container answers readiness probes with: under the 10 MiB Go's HTTP
// client accepts by default.
const redirectBytes = 9_000_000

// victimPod is a control-plane-like pod: a web server with readiness and
// liveness probes on 127.0.0.1:port, and "crash", which exits 1 every 2 s
// (restartPolicy Always), so that bosun's restarts can be timed.
func victimPod(port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: victim
  namespace: kube-system
  labels: {component: victim, tier: control-plane}
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /tmp/www && echo ok > /tmp/www/healthz && exec httpd -f -p 127.0.0.1:%[2]d -h /tmp/www"]
    readinessProbe:
      httpGet: {path: /healthz, port: %[2]d}
      periodSeconds: 1
      timeoutSeconds: 5
    livenessProbe:
      httpGet: {path: /healthz, port: %[2]d}
      periodSeconds: 2
      timeoutSeconds: 5
      failureThreshold: 8
  - name: crash
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "sleep 2; exit 1"]
`, busybox, port)
}

// hostilePod is the attacker, one container per attack, all at once and
// restarted again and again (restartPolicy Always):
//   - hosts truncates its /etc/hosts (mounted from the pod directory, as
//     hostAliases make bosun manage it) to 1 TiB and exits;
//   - redirect answers its HTTP readiness probe, every second, with a 302
//     whose Location is 9 MB long and names another host each time;
//   - hugeline writes a 48 MiB line without a newline, then terminal
//     escapes, and exits 1 under FallbackToLogsOnError;
//   - escapes writes terminal escapes to its termination message file and
//     exits 1, and its exec readiness probe prints escapes and fails;
//   - planter plants links to the host (/, the host file, the host
//     directory) in its emptyDir and, through a hostPath of the pod logs
//     directory, a rotated log of its own that is a link to the host file,
//     then writes past the rotation size (10 MiB) for bosun to rotate; it
//     also mounts a subPath of the hostPath directory keep.
func hostilePod(port int, h hostTargets, logsDir, keep string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hostile
spec:
  hostNetwork: true
  hostAliases:
  - {ip: 127.0.0.1, hostnames: [hostile.local]}
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: data, emptyDir: {}}
  - {name: logs, hostPath: {path: %[3]s, type: Directory}}
  - {name: keep, hostPath: {path: %[4]s, type: Directory}}
  containers:
  - name: hosts
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "busybox truncate -s 1099511627776 /etc/hosts && echo truncated; sleep 1; exit 1"]
  - name: redirect
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c"]
    args:
    - |
      busybox head -c %[5]d /dev/zero | busybox tr '\0' a > /tmp/big
      cat > /tmp/answer <<'EOF'
      #!/bin/sh
      cr=$(printf '\r')
      while read -r l; do [ "$l" = "$cr" ] || [ -z "$l" ] && break; done
      echo asked >&2
      printf 'HTTP/1.1 302 Found\r\nContent-Length: 0\r\nConnection: close\r\nLocation: http://h%%s-%%s.invalid/' "$RANDOM" "$$"
      cat /tmp/big
      printf '\r\n\r\n'
      EOF
      chmod +x /tmp/answer
      exec busybox nc -ll -p %[2]d -e /tmp/answer
    readinessProbe:
      httpGet: {path: /, port: %[2]d}
      periodSeconds: 1
      timeoutSeconds: 10
  - name: hugeline
    image: %[1]s
    imagePullPolicy: IfNotPresent
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["sh", "-c"]
    args:
    - |
      sleep 3
      busybox head -c %[6]d /dev/zero | busybox tr '\0' x
      printf '\033]0;owned by hugeline\007\033[2J'
      exit 1
  - name: escapes
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c"]
    args:
    - |
      printf '\033]0;owned\007\033[2J\033[31mred\r\n' > /dev/termination-log
      sleep 3
      exit 1
    readinessProbe:
      periodSeconds: 1
      exec:
        command:
        - sh
        - -c
        - printf '\033[2J\033]0;owned by a probe\007'; exit 1
  - name: planter
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c"]
    args:
    - |
      ln -s / /data/root-link
      ln -s %[7]s /data/file-link
      ln -s %[8]s /data/dir-link
      for d in /logs/*_hostile-*/planter; do ln -s %[7]s "$d/0.log.19700101-000000" && echo "planted in $d"; done
      echo "keep holds: $(ls /keep)"
      yes 'a line that fills the log past its rotation size' | head -c 11534336
      echo filled
      exec sleep 3600
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: logs, mountPath: /logs}
    - {name: keep, mountPath: /keep, subPath: sub}
`, busybox, port, logsDir, keep, redirectBytes, hugeLineBytes, h.file, h.dir)
}

// bombPod is a manifest whose env references expand to 80 MiB at every
// start of its container (1 KiB, 128 KiB, 16 MiB, 64 MiB) from 2 KiB of
// text.
func bombPod() string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: bomb
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    env:
    - {name: A, value: %q}
    - {name: B, value: %q}
    - {name: C, value: %q}
    - {name: D, value: %q}
`, busybox, strings.Repeat("a", 1024), strings.Repeat("$(A)", 128), strings.Repeat("$(B)", 128), strings.Repeat("$(C)", 4))
}

// hostileSetup is what the hostile pod aims at: host targets its links
// point to, and the hostPath directory keep whose file sub/precious a
// removal must leave alone.
type hostileSetup struct {
	h          hostTargets
	keep       string
	victimPort int
}

const preciousText = "precious\n"

// writeHostilePods writes the victim's manifest, waits until its web
// container is ready, then writes the hostile pod's and the bomb's.
func (e *env) writeHostilePods(t *testing.T) hostileSetup {
	t.Helper()
	s := hostileSetup{h: newHostTargets(t), keep: filepath.Join(t.TempDir(), "keep"), victimPort: freePort(t)}
	if err := os.MkdirAll(filepath.Join(s.keep, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.keep, "sub", "precious"), []byte(preciousText), 0o600); err != nil {
		t.Fatal(err)
	}
	e.write("victim.yaml", victimPod(s.victimPort))
	e.waitRunning("victim", "web")
	eventually(t, time.Minute, "the victim's web container ready", func() bool {
		for _, c := range e.psPods()[e.podName("victim")].Containers {
			if c.Name == "web" {
				return c.Ready
			}
		}
		return false
	})
	e.write("hostile.yaml", hostilePod(freePort(t), s.h, e.logsDir, s.keep))
	e.write("bomb.yaml", bombPod())
	return s
}

// keepIntact fails the test if the hostPath directory's file is gone or
// changed.
func (s hostileSetup) keepIntact(t *testing.T) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(s.keep, "sub", "precious")); err != nil || string(b) != preciousText {
		t.Errorf("the hostPath file behind the hostile pod's subPath now reads %q (%v), want %q", b, err, preciousText)
	}
}

// leakedInto lists the files below dir (compressed ones decompressed) that
// hold the host file's secret: what a rotation that followed a link copied.
func (s hostileSetup) leakedInto(dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		gz := strings.HasSuffix(path, ".gz")
		if info, err := d.Info(); err != nil || !gz && info.Size() > 1<<20 {
			return nil // a copy of the host file is small: logs are not read
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		defer f.Close()
		var r io.Reader = f
		if gz {
			if z, err := gzip.NewReader(f); err == nil {
				r = z
			}
		}
		b, _ := io.ReadAll(io.LimitReader(r, 1<<20))
		if bytes.Contains(b, []byte(hostSecret)) {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// hostileFigures are what bosun did while the hostile pod ran: its memory
// (the largest VmRSS seen and VmHWM), its CPU, how much its log grew, the
// API rounds it answered, and the victim's restarts and their largest gap
// (the runtime's time from an exit to the next start).
type hostileFigures struct {
	Seconds        float64  `json:"seconds"`
	MaxRSSMiB      float64  `json:"max_rss_mib"`
	HWMMiB         float64  `json:"hwm_mib"`
	CPUPercent     float64  `json:"cpu_percent_of_one_core"`
	LogGrowthMiB   float64  `json:"log_growth_mib"`
	APIRounds      int      `json:"api_rounds"`
	APIErrors      int      `json:"api_errors"`
	VictimRestarts int      `json:"victim_restarts"`
	MaxGapS        float64  `json:"max_restart_gap_s"`
	BosunExited    bool     `json:"bosun_exited"`
	Problems       []string `json:"problems,omitempty"`
	// WallClockMoves are moves of the wall clock during the run (another
	// test may move it); a restart gap across one is corrected by it.
	WallClockMoves []time.Duration `json:"wall_clock_moves_ns,omitempty"`
}

func (f hostileFigures) String() string {
	return fmt.Sprintf("%.0f s: max RSS %.1f MiB, VmHWM %.1f MiB, CPU %.1f %% of a core, log +%.2f MiB, %d API rounds (%d failed), victim restarted %d times (largest gap %.1f s), bosun exited: %v",
		f.Seconds, f.MaxRSSMiB, f.HWMMiB, f.CPUPercent, f.LogGrowthMiB, f.APIRounds, f.APIErrors, f.VictimRestarts, f.MaxGapS, f.BosunExited) +
		map[bool]string{true: fmt.Sprintf(", the wall clock moved by %v (not bosun: another test?)", f.WallClockMoves)}[len(f.WallClockMoves) > 0]
}

// instance is one instance of the victim's crash container: its start and
// exit per the runtime (wall clock, ns), and when the sampler first saw it
// started and exited (monotonic, since the run began). The runtime's times
// time each restart; the sampler's catch a stall that a move of the wall
// clock would hide in them.
type instance struct {
	started, finished         int64
	seenStarted, seenFinished time.Duration
}

// hostileRun watches bosun while the hostile pod runs: a sampler (every
// 500 ms: bosun's memory, whether it still runs, its log size, the
// instances of the victim's crash container) and API rounds (ps, inspect
// of the victim and of the hostile pod, events, one round a second at
// most).
type hostileRun struct {
	e          *env
	pid        int
	exited     <-chan struct{}
	began      time.Time
	cpu0       time.Duration
	log0       int64
	backoffMax time.Duration
	stop       chan struct{}
	wg         sync.WaitGroup

	mu        sync.Mutex
	f         hostileFigures
	instances map[uint32]instance
	lastLook  time.Time
	// jumps are the moves of the wall clock seen between two samples
	// (another test on the machine may move it): the runtime's times
	// across one differ by it.
	jumps []time.Duration
	// seen counts the API problems by kind; the first of each kind is
	// kept in f.Problems.
	seen  map[string]int
	kinds []string
}

// watchHostile starts watching; backoffMax is bosun's
// --crash-loop-backoff-max.
func (e *env) watchHostile(backoffMax time.Duration) *hostileRun {
	e.mu.Lock()
	pid, exited := e.bosun.Process.Pid, e.exited
	e.mu.Unlock()
	r := &hostileRun{e: e, pid: pid, exited: exited, began: time.Now(), cpu0: procCPU(pid), log0: fileSize(e.logFile),
		backoffMax: backoffMax, stop: make(chan struct{}), instances: map[uint32]instance{}, seen: map[string]int{}}
	r.wg.Add(2)
	go r.sample()
	go r.apiRounds()
	return r
}

// problem records a problem of a kind; only the first of each kind is
// kept, with the count of all.
func (r *hostileRun) problem(kind, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[kind]++; r.seen[kind] == 1 {
		r.kinds = append(r.kinds, kind)
		r.f.Problems = append(r.f.Problems, fmt.Sprintf(format, args...))
	}
}

func (r *hostileRun) dead() bool {
	select {
	case <-r.exited:
		return true
	default:
		return false
	}
}

func (r *hostileRun) sample() {
	defer r.wg.Done()
	tick := time.NewTicker(hostileSamplePeriod)
	defer tick.Stop()
	for {
		if r.dead() {
			r.mu.Lock()
			r.f.BosunExited = true
			r.mu.Unlock()
			return
		}
		rss, hwm := procMemory(r.pid)
		cs := r.victimInstances()
		r.mu.Lock()
		r.f.MaxRSSMiB = max(r.f.MaxRSSMiB, float64(rss)/1024)
		r.f.HWMMiB = max(r.f.HWMMiB, float64(hwm)/1024)
		seen := time.Since(r.began)
		for a, in := range cs {
			old, ok := r.instances[a]
			in.seenStarted, in.seenFinished = seen, seen
			if ok {
				in.seenStarted = old.seenStarted
				if old.finished != 0 {
					in.seenFinished = old.seenFinished
				}
			}
			r.instances[a] = in
		}
		now := time.Now()
		if !r.lastLook.IsZero() {
			if d := now.Round(0).Sub(r.lastLook.Round(0)) - now.Sub(r.lastLook); d > time.Second || d < -time.Second {
				r.jumps = append(r.jumps, d)
			}
		}
		r.lastLook = now
		r.mu.Unlock()
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
	}
}

// victimInstances reads the instances of the victim's crash container that
// the runtime still holds, by attempt.
func (r *hostileRun) victimInstances() map[uint32]instance {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := cri.ListContainers(ctx, map[string]string{runtime.LabelPodName: r.e.podName("victim")})
	if err != nil {
		return nil
	}
	out := map[uint32]instance{}
	for _, c := range cs {
		if c.Metadata.Name != "crash" {
			continue
		}
		if st, err := cri.ContainerStatus(ctx, c.Id); err == nil && st.StartedAt != 0 {
			out[c.Metadata.Attempt] = instance{started: st.StartedAt, finished: st.FinishedAt}
		}
	}
	return out
}

func (r *hostileRun) apiRounds() {
	defer r.wg.Done()
	calls := [][]string{
		{"ps"},
		{"ps", "-o", "json"},
		{"inspect", "kube-system/" + r.e.podName("victim")},
		{"inspect", r.e.podName("hostile")},
		{"events"},
	}
	for {
		start := time.Now()
		if r.dead() {
			return
		}
		failed := false
		for _, args := range calls {
			out, err := r.call(args...)
			if err != nil {
				failed = true
				r.problem(args[0]+" failed", "bosun %s: %v: %.300q", strings.Join(args, " "), err, out)
			} else if i := bytes.IndexByte(out, 0x1b); i >= 0 {
				r.problem(args[0]+" ESC", "bosun %s printed a raw ESC: %.200q", strings.Join(args, " "), out[max(i-80, 0):])
			}
		}
		r.mu.Lock()
		r.f.APIRounds++
		if failed {
			r.f.APIErrors++
		}
		r.mu.Unlock()
		select {
		case <-r.stop:
			return
		case <-time.After(time.Until(start.Add(time.Second))):
		}
	}
}

// call runs a client verb against bosun with a 30 s bound and returns its
// output, at most 1 MiB of it kept.
func (r *hostileRun) call(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bosunBin, r.e.cliArgs(args)...)
	var out boundedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.b.Bytes(), err
}

// boundedBuffer keeps the first 1 MiB written to it and drops the rest.
type boundedBuffer struct{ b bytes.Buffer }

func (w *boundedBuffer) Write(p []byte) (int, error) {
	if room := 1<<20 - w.b.Len(); room > 0 {
		w.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// finish stops watching and returns the figures, with the restarts of the
// victim checked: each came within the longest backoff plus
// hostileRestartSlack of the exit before it, and none is overdue.
func (r *hostileRun) finish() hostileFigures {
	close(r.stop)
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.f
	f.Problems = nil
	for i, k := range r.kinds {
		f.Problems = append(f.Problems, fmt.Sprintf("%s (%d times in all)", r.f.Problems[i], r.seen[k]))
	}
	f.Seconds = time.Since(r.began).Seconds()
	f.BosunExited = f.BosunExited || r.dead()
	if !f.BosunExited {
		f.CPUPercent = 100 * (procCPU(r.pid) - r.cpu0).Seconds() / f.Seconds
	}
	f.LogGrowthMiB = float64(fileSize(r.e.logFile)-r.log0) / (1 << 20)
	budget := r.backoffMax + hostileRestartSlack
	var attempts []uint32
	for a := range r.instances {
		attempts = append(attempts, a)
	}
	sort.Slice(attempts, func(i, j int) bool { return attempts[i] < attempts[j] })
	for i, a := range attempts {
		if i == 0 {
			continue
		}
		prev, cur := r.instances[attempts[i-1]], r.instances[a]
		if attempts[i-1] != a-1 {
			f.Problems = append(f.Problems, fmt.Sprintf("the victim's crash container: attempts %d to %d never seen", attempts[i-1]+1, a-1))
			continue
		}
		f.VictimRestarts++
		gap := r.unjumped(time.Duration(cur.started-prev.finished), budget)
		f.MaxGapS = max(f.MaxGapS, gap.Seconds())
		if seen := cur.seenStarted - prev.seenFinished; seen > budget+hostileSamplePeriod {
			f.Problems = append(f.Problems, fmt.Sprintf("the victim's crash container: attempt %d was seen started %v after attempt %d was seen exited, over %v (its backoff, at most %v, + %v, + the sampling period)",
				a, seen.Round(time.Millisecond), a-1, budget, r.backoffMax, hostileRestartSlack))
		}
		if prev.finished == 0 || gap > budget || gap < 0 {
			f.Problems = append(f.Problems, fmt.Sprintf("the victim's crash container: attempt %d started %v after attempt %d exited (at %s and %s), not within %v (its backoff, at most %v, + %v)",
				a, gap.Round(time.Millisecond), a-1, time.Unix(0, cur.started).Format(time.StampMilli), time.Unix(0, prev.finished).Format(time.StampMilli),
				budget, r.backoffMax, hostileRestartSlack))
		}
	}
	if n := len(attempts); n > 0 {
		last := r.instances[attempts[n-1]]
		if since := r.lastLook.Sub(r.began) - last.seenFinished; last.finished != 0 && since > budget+hostileSamplePeriod {
			f.Problems = append(f.Problems, fmt.Sprintf("the victim's crash container: attempt %d was seen exited %v before the last look and was not restarted (over %v)",
				attempts[n-1], since.Round(time.Millisecond), budget))
		}
	}
	f.WallClockMoves = r.jumps
	return f
}

// unjumped is a gap between two of the runtime's times, less the wall
// clock's move that brings it within budget if one does: the gap across
// that move.
func (r *hostileRun) unjumped(gap, budget time.Duration) time.Duration {
	if gap >= 0 && gap <= budget {
		return gap
	}
	for _, d := range r.jumps {
		if g := gap - d; g >= 0 && g <= budget {
			return g
		}
	}
	return gap
}

// procMemory is a process's VmRSS and VmHWM in KiB.
func procMemory(pid int) (rss, hwm int64) {
	s, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(s), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseInt(f[1], 10, 64)
		case "VmHWM:":
			hwm, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return rss, hwm
}

// procCPU is a process's user and system time (utime+stime of
// /proc/PID/stat).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(f) < 15 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * time.Second / 100 // USER_HZ
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// hostileEvidence lists the attacks that did not happen by now: each
// exiting container exited at least once, probes came to the redirect
// container (a prober that stops reading early cuts its answer short), and the planter filled its log past the rotation size.
func (e *env) hostileEvidence(t *testing.T) []string {
	t.Helper()
	var missing []string
	p := e.pod("hostile")
	for _, name := range []string{"hosts", "hugeline", "escapes"} {
		exited := false
		for _, c := range p.containers {
			exited = exited || c.Metadata.Name == name && (c.Metadata.Attempt > 0 || c.State == runtimeapi.ContainerState_CONTAINER_EXITED)
		}
		if !exited {
			missing = append(missing, name+": no exit")
		}
	}
	sb := p.ready()
	if sb == nil {
		return append(missing, "the hostile pod has no ready sandbox")
	}
	dir := e.podLogDir("hostile", sb.Metadata.Uid)
	asked := 0
	logs, _ := filepath.Glob(filepath.Join(dir, "redirect", "*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		asked += strings.Count(string(b), "asked")
	}
	if asked < 3 {
		missing = append(missing, fmt.Sprintf("redirect: %d probes came", asked))
	}
	rotated, _ := filepath.Glob(filepath.Join(dir, "planter", "0.log.2*"))
	if len(rotated) == 0 && fileSize(filepath.Join(dir, "planter", "0.log")) < 11<<20 {
		missing = append(missing, "planter: its log neither rotated nor past the rotation size")
	}
	return missing
}
