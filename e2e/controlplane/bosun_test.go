package controlplane

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/e2e/internal/cpkit"
	"github.com/bosun-sh/bosun/runtime"
)

// runner is bosun as a user runs it for kubeadm: the KubeletConfiguration
// kubeadm wrote, kubeadm's manifest directory and kubeconfigs, in the test's
// network namespace.
type runner struct {
	t       *testing.T
	dir     string // bosun's own files: state, logs, API socket
	logFile string
	apiSock string
	cmd     *exec.Cmd
	exited  chan struct{}
	// madeContainersDir says the kubelet's start made /var/log/containers.
	madeContainersDir bool
}

// newRunner is a runner whose files are in the test's directory, in node-NAME.
func newRunner(t *testing.T, name string) *runner {
	dir := filepath.Join(work, "node-"+name)
	return &runner{t: t, dir: dir, logFile: filepath.Join(dir, "bosun.log"), apiSock: filepath.Join(dir, "run", "bosun.sock")}
}

// start starts bosun and waits for its first sync. No flag says where
// /healthz is or which runtime to use: the KubeletConfiguration kubeadm
// wrote decides (healthzBindAddress 127.0.0.1 and healthzPort 10248, where
// kubeadm's wait-control-plane looks; containerRuntimeEndpoint, kubeadm's
// criSocket). --kubeconfig and --bootstrap-kubeconfig are the kubelet's, as
// kubeadm's systemd drop-in passes them: kubeadm init writes kubelet.conf,
// kubeadm join the bootstrap one. The other flags keep the test's files in
// its own directory.
func (r *runner) start() {
	r.t.Helper()
	if agent == "kubelet" {
		r.startKubelet()
		return
	}
	if r.cmd != nil {
		r.t.Fatal("bosun already running")
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	log, err := os.OpenFile(r.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	defer log.Close()
	fmt.Fprintf(log, "=== bosun start %s\n", time.Now().Format(time.RFC3339Nano))
	args := []string{"run",
		"--config", "/var/lib/kubelet/config.yaml",
		"--pod-manifest-path", "/etc/kubernetes/manifests",
		"--kubeconfig", "/etc/kubernetes/kubelet.conf",
		"--bootstrap-kubeconfig", "/etc/kubernetes/bootstrap-kubelet.conf",
		"--hostname-override", nodeName,
		"--root-dir", filepath.Join(r.dir, "root"),
		"--pod-logs-dir", filepath.Join(r.dir, "pods"),
		"--container-log-links-dir", filepath.Join(r.dir, "containers"),
		"--api-socket", r.apiSock,
		"--metrics-bind-address", "127.0.0.1:0",
		"-v", "1",
	}
	// nsenter execs bosun: r.cmd's process is bosun itself.
	r.cmd = netnsCommand(context.Background(), bosunBin, args...)
	// A test binary that dies takes its bosun with it.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { _ = cmd.Wait(); close(exited) }(r.cmd, r.exited)
	eventually(r.t, 2*time.Minute, "bosun's first sync", func() bool {
		l := r.log()
		return strings.Contains(l[strings.LastIndex(l, "=== bosun start"):], "first sync done")
	})
}

// kill sends sig to bosun and waits for it to exit.
func (r *runner) kill(sig syscall.Signal) {
	r.t.Helper()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
		r.t.Errorf("bosun did not exit within 30s of %v", sig)
	}
	r.cmd = nil
}

func (r *runner) log() string {
	b, _ := os.ReadFile(r.logFile)
	return string(b)
}

// cli runs a client verb of bosun and returns its output.
func (r *runner) cli(args ...string) string {
	r.t.Helper()
	out, err := r.cliErr(args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *runner) cliErr(args ...string) (string, error) {
	full := append([]string{args[0], "--api-socket", r.apiSock}, args[1:]...)
	out, err := exec.Command(bosunBin, full...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("bosun %s: %w\n%s", strings.Join(full, " "), err, out)
	}
	return string(out), nil
}

// criCall is one CRI call bosun logged: when it returned, and how long it took.
type criCall struct {
	method   string
	end      time.Time
	duration time.Duration
}

// criCalls lists the CRI calls in a piece of bosun's log (text format, -v 1).
func criCalls(t *testing.T, log string) []criCall {
	t.Helper()
	var out []criCall
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, `msg="cri call"`) {
			continue
		}
		c := criCall{method: field(l, "method")}
		var err error
		if c.end, err = time.Parse(time.RFC3339Nano, field(l, "time")); err != nil {
			t.Fatalf("bosun log line %q: %v", l, err)
		}
		if c.duration, err = time.ParseDuration(field(l, "duration")); err != nil {
			t.Fatalf("bosun log line %q: %v", l, err)
		}
		out = append(out, c)
	}
	return out
}

// field is the value of key=value in a text log line.
func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

var mutating = map[string]bool{"RunPodSandbox": true, "StopPodSandbox": true, "RemovePodSandbox": true,
	"CreateContainer": true, "StartContainer": true, "StopContainer": true, "RemoveContainer": true, "PullImage": true}

func mutatingCalls(t *testing.T, log string) []string {
	var out []string
	for _, c := range criCalls(t, log) {
		if mutating[c.method] {
			out = append(out, c.method)
		}
	}
	return out
}

// containers maps the name of each running container bosun manages (under
// the kubelet, each running control-plane container) to it.
func containers(t *testing.T) map[string]*runtimeapi.Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if agent == "kubelet" {
		out, err := kubeletContainers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cs, err := cri.ListContainers(ctx, runtime.ManagedSelector())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*runtimeapi.Container{}
	for _, c := range cs {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			out[c.Metadata.Name] = c
		}
	}
	return out
}

// sameContainers reports how two snapshots differ, by ID and attempt.
func sameContainers(before, after map[string]*runtimeapi.Container) error {
	return cpkit.SameContainers(before, after)
}

// eventually polls cond every 50 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	cpkit.Eventually(t, timeout, what, cond)
}
