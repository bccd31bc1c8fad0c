package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/runtime"
)

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func randomName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// env is one test's world: a manifest directory, a log directory, a node
// name that makes its pods unique, and the bosun processes it started.
type env struct {
	t        *testing.T
	node     string
	dir      string
	logsDir  string
	linksDir string
	rootDir  string
	logFile  string
	mu       sync.Mutex
	bosun    *exec.Cmd
	exited   chan struct{}
	runFlags []string
	apiSock  string
	// extraEnv is added to bosun's environment.
	extraEnv []string
}

func newEnv(t *testing.T, flags ...string) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{
		t:       t,
		node:    randomName("node"),
		dir:     filepath.Join(base, "manifests"),
		logsDir: filepath.Join(base, "logs"),
		rootDir: filepath.Join(base, "root"),
		logFile: filepath.Join(base, "bosun.log"),
		apiSock: filepath.Join(base, "run", "bosun.sock"),
		// Never the host's /var/log/containers.
		linksDir: filepath.Join(base, "containers"),
		runFlags: append([]string{
			"--crash-loop-backoff-initial=1s", "--crash-loop-backoff-max=2s",
			// Relist every second, so "nothing happened after N relists" is quick to see.
			"--sync-frequency=1s",
			// Probes and hooks of hostNetwork pods without a host go to the
			// node IP: tests send traffic to loopback only, never to this
			// machine's own address.
			"--node-ip=127.0.0.1",
			// The test images live in the one containerd all tests share:
			// image GC must not remove them on a nearly full disk.
			"--image-gc-high-threshold=100",
		}, flags...),
	}
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			e.dump()
		}
		e.stopBosun(syscall.SIGTERM)
		e.removePods()
		unmountBelow(e.rootDir)
	})
	return e
}

// startBosun starts bosun and waits for its first sync.
func (e *env) startBosun() {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.bosun != nil {
		e.t.Fatal("bosun already running")
	}
	log, err := os.OpenFile(e.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	fmt.Fprintf(log, "=== bosun start %s\n", time.Now().Format(time.RFC3339Nano))
	args := append([]string{"run",
		"--pod-manifest-path", e.dir,
		"--container-runtime-endpoint", endpoint,
		"--hostname-override", e.node,
		"--root-dir", e.rootDir,
		"--pod-logs-dir", e.logsDir,
		"--container-log-links-dir", e.linksDir,
		"--api-socket", e.apiSock,
		"--healthz-bind-address", "127.0.0.1:0",
		"--metrics-bind-address", "127.0.0.1:0",
		"-v", "1",
	}, e.runFlags...)
	cmd := exec.Command(bosunBin, args...)
	cmd.Env = append(os.Environ(), e.extraEnv...)
	// A test binary that dies (a -timeout panic) takes its bosun with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	log.Close()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	e.bosun, e.exited = cmd, exited
	starts := strings.Count(e.log(), "=== bosun start")
	eventually(e.t, time.Minute, "bosun's first sync", func() bool {
		l := e.log()
		return strings.Count(l[strings.LastIndex(l, "=== bosun start"):], "first sync done") == 1 && starts > 0
	})
}

// stopBosun sends sig to bosun and waits for it to exit.
func (e *env) stopBosun(sig syscall.Signal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.bosun == nil {
		return
	}
	_ = e.bosun.Process.Signal(sig)
	select {
	case <-e.exited:
	case <-time.After(20 * time.Second):
		_ = e.bosun.Process.Kill()
		<-e.exited
		e.t.Errorf("bosun did not exit within 20s of %v", sig)
	}
	e.bosun = nil
}

// cli runs a client verb of bosun against this test's daemon and returns
// its stdout, failing the test on an error.
func (e *env) cli(args ...string) string {
	e.t.Helper()
	out, err := e.cliErr(args...)
	if err != nil {
		e.t.Fatalf("bosun %v: %v\n%s", args, err, out)
	}
	return out
}

func (e *env) cliErr(args ...string) (string, error) {
	cmd := exec.Command(bosunBin, e.cliArgs(args)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return out.String() + errOut.String(), err
	}
	return out.String(), nil
}

// cliStream starts a client verb of bosun that keeps printing (logs -f)
// against this test's daemon and returns its stdout line by line; the verb
// ends with ctx, and wait reaps it.
func (e *env) cliStream(ctx context.Context, args ...string) (lines *bufio.Scanner, wait func()) {
	e.t.Helper()
	cmd := exec.CommandContext(ctx, bosunBin, e.cliArgs(args)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	return bufio.NewScanner(out), func() { _ = cmd.Wait() }
}

// cliArgs are the arguments of a client verb, its first, against this
// test's daemon.
func (e *env) cliArgs(args []string) []string {
	return append([]string{args[0], "--api-socket", e.apiSock}, args[1:]...)
}

// httpAddr is the address bosun's HTTP endpoints listen on, from its log.
func (e *env) httpAddr() string {
	e.t.Helper()
	l := e.log()
	l = l[strings.LastIndex(l, "=== bosun start"):]
	i := strings.Index(l, `msg="http endpoints serving" address=`)
	if i < 0 {
		e.t.Fatal("bosun did not log its http address")
	}
	rest := l[i+len(`msg="http endpoints serving" address=`):]
	return strings.Fields(rest)[0]
}

func (e *env) log() string {
	b, _ := os.ReadFile(e.logFile)
	return string(b)
}

// logSince returns the log after the given length of it.
func (e *env) logSince(mark int) string {
	l := e.log()
	if mark > len(l) {
		return ""
	}
	return l[mark:]
}

// write puts a manifest in place atomically (temp file, then rename).
func (e *env) write(name, content string) {
	e.t.Helper()
	tmp := filepath.Join(e.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(e.dir, name)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) remove(name string) {
	e.t.Helper()
	if err := os.Remove(filepath.Join(e.dir, name)); err != nil {
		e.t.Fatal(err)
	}
}

// podName is the runtime name of a pod of this test.
func (e *env) podName(name string) string { return name + "-" + e.node }

// pod is the runtime state of one pod: its sandboxes and containers.
type pod struct {
	sandboxes  []*runtimeapi.PodSandbox
	containers []*runtimeapi.Container
}

// ready returns the ready sandbox, or nil.
func (p pod) ready() *runtimeapi.PodSandbox {
	for _, s := range p.sandboxes {
		if s.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			return s
		}
	}
	return nil
}

// container returns the newest instance of a container of the ready sandbox.
func (p pod) container(name string) *runtimeapi.Container {
	sb := p.ready()
	if sb == nil {
		return nil
	}
	var best *runtimeapi.Container
	for _, c := range p.containers {
		if c.PodSandboxId == sb.Id && c.Metadata.Name == name && (best == nil || c.Metadata.Attempt > best.Metadata.Attempt) {
			best = c
		}
	}
	return best
}

// newest returns the newest instance of a container in the pod's newest
// sandbox, ready or not (a pod that is done has its sandbox stopped), or
// nil.
func (p pod) newest(name string) *runtimeapi.Container {
	var sb *runtimeapi.PodSandbox
	for _, s := range p.sandboxes {
		if sb == nil || s.Metadata.Attempt > sb.Metadata.Attempt || (s.Metadata.Attempt == sb.Metadata.Attempt && s.CreatedAt > sb.CreatedAt) {
			sb = s
		}
	}
	if sb == nil {
		return nil
	}
	var best *runtimeapi.Container
	for _, c := range p.containers {
		if c.PodSandboxId == sb.Id && c.Metadata.Name == name && (best == nil || c.Metadata.Attempt > best.Metadata.Attempt) {
			best = c
		}
	}
	return best
}

// running returns the running instance of a container, or nil.
func (p pod) running(name string) *runtimeapi.Container {
	c := p.container(name)
	if c == nil || c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return nil
	}
	return c
}

// pod lists the runtime state of pod name of this test.
func (e *env) pod(name string) pod {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sel := map[string]string{runtime.LabelPodName: e.podName(name)}
	sbs, err := cri.ListPodSandbox(ctx, sel)
	if err != nil {
		e.t.Fatal(err)
	}
	cs, err := cri.ListContainers(ctx, sel)
	if err != nil {
		e.t.Fatal(err)
	}
	return pod{sandboxes: sbs, containers: cs}
}

// waitRunning waits until container name of pod runs and returns it.
func (e *env) waitRunning(podName, name string) *runtimeapi.Container {
	e.t.Helper()
	var c *runtimeapi.Container
	eventually(e.t, time.Minute, fmt.Sprintf("container %s of pod %s running", name, podName), func() bool {
		c = e.pod(podName).running(name)
		return c != nil
	})
	// The runtime may show the container running a moment before bosun's
	// StartContainer call returns: wait for bosun's word too, so that what
	// bosun logs from now on is about what comes next.
	eventually(e.t, 30*time.Second, "bosun's log of the start of "+c.Id, func() bool {
		return strings.Contains(e.log(), "container="+name+" id="+c.Id)
	})
	return c
}

func status(t *testing.T, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	st := statusOfListed(t, id)
	if st == nil {
		t.Fatalf("container %s: %v", id, runtime.ErrNotFound)
	}
	return st
}

// statusOfListed is status for a container listed a moment ago that bosun
// may have collected as garbage since (a crash-looping pod keeps only its
// newest two): nil when containerd no longer knows it.
func statusOfListed(t *testing.T, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	st, err := cri.ContainerStatus(context.Background(), id)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// mutatingCalls lists the CRI calls in a piece of bosun's debug log that
// change something.
func mutatingCalls(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, `msg="cri call"`) {
			continue
		}
		for _, m := range []string{"RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer", "PullImage"} {
			if strings.Contains(l, "method="+m+" ") {
				out = append(out, m)
			}
		}
	}
	return out
}

// waitRelists waits until bosun has listed the runtime n more times after mark.
func (e *env) waitRelists(mark, n int) {
	e.t.Helper()
	eventually(e.t, time.Minute, fmt.Sprintf("%d relists", n), func() bool {
		return strings.Count(e.logSince(mark), "method=ListContainers ") >= n
	})
}

// removePods stops and removes every sandbox of this test's node, retrying
// while containers are still starting.
func (e *env) removePods() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		sbs, err := cri.ListPodSandbox(ctx, runtime.ManagedSelector())
		if err != nil {
			e.t.Logf("cleanup: %v", err)
			return
		}
		last = nil
		for _, sb := range sbs {
			if !strings.HasSuffix(sb.Metadata.Name, "-"+e.node) {
				continue
			}
			_ = cri.StopPodSandbox(ctx, sb.Id)
			if err := cri.RemovePodSandbox(ctx, sb.Id); err != nil {
				last = err
			}
		}
		if last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Logf("cleanup: %v", last)
}

// dump prints what a failing test needs: bosun's log, containerd's log and
// the CRI state.
func (e *env) dump() {
	e.t.Logf("bosun log:\n%s", tail([]byte(e.log()), 150))
	if b, err := os.ReadFile(filepath.Join(containerdDir, "containerd.log")); err == nil {
		e.t.Logf("containerd log (tail):\n%s", tail(b, 40))
	}
	ctx := context.Background()
	var buf bytes.Buffer
	sbs, _ := cri.ListPodSandbox(ctx, nil)
	cs, _ := cri.ListContainers(ctx, nil)
	sort.Slice(sbs, func(i, j int) bool { return sbs[i].CreatedAt < sbs[j].CreatedAt })
	for _, sb := range sbs {
		fmt.Fprintf(&buf, "sandbox %.13s %s/%s attempt=%d %s\n", sb.Id, sb.Metadata.Namespace, sb.Metadata.Name, sb.Metadata.Attempt, sb.State)
		for _, c := range cs {
			if c.PodSandboxId == sb.Id {
				fmt.Fprintf(&buf, "  container %.13s %s attempt=%d %s\n", c.Id, c.Metadata.Name, c.Metadata.Attempt, c.State)
			}
		}
	}
	e.t.Logf("CRI state:\n%s", buf.String())
}

// eventually polls cond every 50 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unmountBelow lazily unmounts every mount below dir (tmpfs volumes of pods
// that the test removed without bosun).
func unmountBelow(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			_ = syscall.Unmount(f[4], syscall.MNT_DETACH)
		}
	}
}

// containerPID is the host PID of a running container's process.
func containerPID(t *testing.T, id string) int {
	t.Helper()
	out, err := exec.Command("ctr", "--address", filepath.Join(containerdDir, "containerd.sock"), "-n", "k8s.io", "tasks", "ls").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == id {
			var pid int
			fmt.Sscan(f[1], &pid)
			return pid
		}
	}
	t.Fatalf("no task for container %s", id)
	return 0
}
