package ha

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/e2e/internal/cpkit"
	"github.com/bosun-sh/bosun/runtime"
)

// node is one control-plane machine of the test: a network namespace on the
// test's bridge, a mount and a UTS namespace (held by a sleeping process)
// with its own kubeadm paths and host name, and its containerd and bosun
// inside them.
type node struct {
	name  string
	ip    string
	netns string // /run/netns/NAME
	veth  string // the host's end of its veth pair
	dir   string // its files: kubeadm's paths, containerd, bosun's
	// holder is the process whose mount namespace is the node's; every
	// command of the node enters it.
	holder *exec.Cmd
	bosun  *exec.Cmd
	exited chan struct{}
}

func newNode(i int) (*node, error) {
	n := &node{
		name:  fmt.Sprintf("ha-%d", i),
		ip:    fmt.Sprintf(subnet, 10+i),
		netns: fmt.Sprintf("%s-%d", strings.Replace(bridge, "bha", "bosun-ha-", 1), i),
		veth:  fmt.Sprintf("%sn%d", bridge, i),
		dir:   filepath.Join(work, fmt.Sprintf("ha-%d", i)),
	}
	for _, d := range n.bindSources() {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	return n, ipAll([][]string{
		{"netns", "add", n.netns},
		{"link", "add", n.veth, "type", "veth", "peer", "name", "eth0", "netns", n.netns},
		{"link", "set", n.veth, "master", bridge},
		{"-n", n.netns, "link", "set", "lo", "up"},
		{"-n", n.netns, "addr", "add", n.ip + "/24", "dev", "eth0"},
		{"-n", n.netns, "link", "set", "eth0", "up"},
		{"-n", n.netns, "route", "add", "default", "via", gatewayIP},
		// kubeadm's preflight wants forwarding on, as on any node; a new
		// namespace takes the host's setting, which may be off.
		{"netns", "exec", n.netns, "sh", "-c", "echo 1 >/proc/sys/net/ipv4/ip_forward"},
	})
}

func (n *node) netnsPath() string { return "/run/netns/" + n.netns }

// bindSources are the node's own directories for fixedPaths, in order.
func (n *node) bindSources() []string {
	var out []string
	for _, p := range fixedPaths {
		out = append(out, filepath.Join(n.dir, strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", "-")))
	}
	return out
}

// hostPath is where the host sees a file of the node's kubeadm paths, e.g.
// /etc/kubernetes/admin.conf.
func (n *node) hostPath(p string) string {
	for i, fp := range fixedPaths {
		if rest, ok := strings.CutPrefix(p, fp); ok {
			return n.bindSources()[i] + rest
		}
	}
	panic("not below a kubeadm path: " + p)
}

func (n *node) containerdDir() string  { return filepath.Join(n.dir, "containerd") }
func (n *node) containerdSock() string { return filepath.Join(n.containerdDir(), "containerd.sock") }
func (n *node) bosunLog() string       { return filepath.Join(n.dir, "bosun.log") }
func (n *node) apiSock() string        { return filepath.Join(n.dir, "run", "bosun.sock") }

// boot powers the node on: its link up, a fresh mount namespace with its
// kubeadm paths bound, and its containerd started (its root kept from
// before; its state directory, /run on a real machine, empty).
func (n *node) boot(ctx context.Context) error {
	if err := ipAll([][]string{{"link", "set", n.veth, "up"}}); err != nil {
		return err
	}
	var script strings.Builder
	// A machine of its own has a host name of its own: kube-apiserver names
	// its identity lease after it, and kubeadm checks it.
	fmt.Fprintf(&script, "echo %s >/proc/sys/kernel/hostname && ", n.name)
	for i, p := range fixedPaths {
		fmt.Fprintf(&script, "mount --bind %s %s && ", n.bindSources()[i], p)
	}
	// The node's names resolve from its own /etc/hosts, and nothing it
	// looks up leaves the machine: its resolver is loopback, where nothing
	// answers.
	for _, f := range []string{"hosts", "resolv.conf"} {
		fmt.Fprintf(&script, "mount --bind %s /etc/%s && ", filepath.Join(work, f), f)
	}
	script.WriteString("echo ready && exec sleep infinity")
	// nsenter and unshare exec: the holder's PID is the sleeping process.
	h := exec.Command("nsenter", "--net="+n.netnsPath(), "--", "unshare", "--mount", "--uts", "--propagation", "private", "--", "sh", "-c", script.String())
	h.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := h.StdoutPipe()
	if err != nil {
		return err
	}
	h.Stderr = os.Stderr
	if err := h.Start(); err != nil {
		return err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		_ = h.Process.Kill()
		_ = h.Wait()
		if err == nil {
			err = fmt.Errorf("it said %q, not ready", line)
		}
		return fmt.Errorf("%s: mount namespace: %w", n.name, err)
	}
	n.holder = h
	go func() { _ = h.Wait() }()
	cmd := n.command(ctx, filepath.Join(here, "../../hack/containerd.sh"), "start", n.containerdDir())
	cmd.Env = append(os.Environ(), "PAUSE_IMAGE="+pauseImage)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: hack/containerd.sh start: %w: %s", n.name, err, b)
	}
	return nil
}

// command runs in the node's network and mount namespaces, in this
// package's directory.
func (n *node) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	pid := strconv.Itoa(n.holder.Process.Pid)
	return exec.CommandContext(ctx, "nsenter", append([]string{"--target", pid, "--mount", "--uts", "--net", "--wd=" + here, "--", name}, args...)...)
}

// powerOff is the node's power lost: its link goes down, then every process
// of its network namespace (containerd, shims, containers, bosun and the
// mount namespace's holder) is killed at once. containerd's state directory
// goes with it, as /run does; its root stays.
func (n *node) powerOff() {
	_ = ipAll([][]string{{"link", "set", n.veth, "down"}})
	st, err := os.Stat(n.netnsPath())
	if err != nil {
		return
	}
	ino := st.Sys().(*syscall.Stat_t).Ino
	want := fmt.Sprintf("net:[%d]", ino)
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := netnsPIDs(want)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			fmt.Printf("ha: %s: processes %v do not die\n", n.name, pids)
			break
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n.bosun != nil {
		<-n.exited
		n.bosun = nil
	}
	n.holder = nil
	// Nothing is mounted below the directory once its mount namespace is
	// gone (it was private); the state is removed only when that holds.
	state := filepath.Join(n.containerdDir(), "state")
	if mounted(state) {
		fmt.Printf("ha: %s: something is still mounted below %s; kept\n", n.name, state)
		return
	}
	_ = os.RemoveAll(state)
	_ = os.Remove(filepath.Join(n.containerdDir(), "containerd.pid"))
}

// netnsPIDs lists the processes whose network namespace is want.
func netnsPIDs(want string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if l, err := os.Readlink("/proc/" + e.Name() + "/ns/net"); err == nil && l == want {
			out = append(out, pid)
		}
	}
	return out
}

// mounted reports whether the host's mount table has anything at or below
// dir.
func mounted(dir string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return true
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			return true
		}
	}
	return false
}

// startBosun starts bosun as kubeadm's systemd drop-in starts the kubelet:
// the KubeletConfiguration and flags kubeadm wrote, kubeadm's kubeconfigs,
// the node's name from its host name, as on a machine of its own. It waits
// for the first sync.
func (n *node) startBosun(t *testing.T) {
	t.Helper()
	if n.bosun != nil {
		t.Fatalf("%s: bosun already running", n.name)
	}
	log, err := os.OpenFile(n.bosunLog(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	fmt.Fprintf(log, "=== bosun start %s\n", time.Now().Format(time.RFC3339Nano))
	n.bosun = n.command(context.Background(), bosunBin, "run",
		"--config", "/var/lib/kubelet/config.yaml",
		"--pod-manifest-path", "/etc/kubernetes/manifests",
		"--kubeconfig", "/etc/kubernetes/kubelet.conf",
		"--bootstrap-kubeconfig", "/etc/kubernetes/bootstrap-kubelet.conf",
		"--root-dir", filepath.Join(n.dir, "bosun-root"),
		"--pod-logs-dir", filepath.Join(n.dir, "pods"),
		"--container-log-links-dir", filepath.Join(n.dir, "containers"),
		"--api-socket", n.apiSock(),
		"--metrics-bind-address", "127.0.0.1:0",
		"-v", "1")
	n.bosun.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	n.bosun.Stdout, n.bosun.Stderr = log, log
	if err := n.bosun.Start(); err != nil {
		t.Fatal(err)
	}
	n.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { _ = cmd.Wait(); close(exited) }(n.bosun, n.exited)
	eventually(t, 2*time.Minute, n.name+": bosun's first sync", func() bool {
		select {
		case <-n.exited:
			// Its unit (Restart=always, RestartSec=2s) starts it again, as
			// after a reboot when containerd's CRI is not initialized yet
			// (seen here: bosun exits then, as the kubelet does), or when
			// kubeadm was still writing config.yaml as bosun read it.
			t.Logf("%s: bosun exited before its first sync; started again 2 s later, as by its unit:\n%s", n.name, tail(n.log(), 5))
			n.bosun = nil
			time.Sleep(2 * time.Second)
			n.startBosun(t)
			return true
		default:
		}
		l := n.log()
		return strings.Contains(l[strings.LastIndex(l, "=== bosun start"):], "first sync done")
	})
}

// killBosun sends sig to bosun and waits for it to exit.
func (n *node) killBosun(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if n.bosun == nil {
		return
	}
	_ = n.bosun.Process.Signal(sig)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		_ = n.bosun.Process.Kill()
		<-n.exited
		t.Errorf("%s: bosun did not exit within 30s of %v", n.name, sig)
	}
	n.bosun = nil
}

func (n *node) log() string {
	b, _ := os.ReadFile(n.bosunLog())
	return string(b)
}

// bosunCLI runs a client verb of the node's bosun.
func (n *node) bosunCLI(ctx context.Context, args ...string) (string, error) {
	full := append([]string{args[0], "--api-socket", n.apiSock()}, args[1:]...)
	out, err := exec.CommandContext(ctx, bosunBin, full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: bosun %s: %w\n%s", n.name, strings.Join(full, " "), err, out)
	}
	return string(out), nil
}

// kubeadm runs kubeadm in the node and returns its output and how long it
// took; bosun is started as soon as kubeadm has written the
// KubeletConfiguration (as its unit, Restart=always, would), and kubeadm
// goes on.
func (n *node) kubeadm(t *testing.T, timeout time.Duration, args ...string) (string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := n.command(ctx, kubeBin+"/kubeadm", args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	config := n.hostPath("/var/lib/kubelet/config.yaml")
wait:
	for n.bosun == nil {
		select {
		case err = <-done:
			break wait
		case <-time.After(50 * time.Millisecond):
		}
		if _, serr := os.Stat(config); serr == nil {
			t.Logf("%s: %s written %v after kubeadm started: bosun starts", n.name, "/var/lib/kubelet/config.yaml", time.Since(start).Round(time.Millisecond))
			n.startBosun(t)
		}
	}
	if n.bosun != nil && err == nil {
		err = <-done
	}
	took := time.Since(start)
	if err != nil {
		if n.bosun != nil {
			t.Logf("%s: bosun log (tail):\n%s", n.name, tail(n.log(), 80))
		}
		t.Fatalf("%s: kubeadm %s: %v after %v\n%s", n.name, strings.Join(args, " "), err, took.Round(time.Millisecond), out.String())
	}
	t.Logf("%s: kubeadm %s: ok in %v\n%s", n.name, strings.Join(args, " "), took.Round(time.Millisecond), tail(out.String(), 25))
	return out.String(), took
}

// cri dials the node's containerd.
func (n *node) cri(t *testing.T) *runtime.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := runtime.Dial(ctx, "unix://"+n.containerdSock(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("%s: %v", n.name, err)
	}
	return c
}

// containers maps the name of each running container bosun manages on the
// node to it.
func (n *node) containers(t *testing.T) map[string]*runtimeapi.Container {
	t.Helper()
	c := n.cri(t)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := c.ListContainers(ctx, runtime.ManagedSelector())
	if err != nil {
		t.Fatalf("%s: %v", n.name, err)
	}
	out := map[string]*runtimeapi.Container{}
	for _, c := range cs {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			out[c.Metadata.Name] = c
		}
	}
	return out
}

// eventually polls cond every 50 ms until it holds, or fails the test at
// timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	cpkit.Eventually(t, timeout, what, cond)
}

func tail(s string, n int) string { return cpkit.Tail(s, n) }

// exists reports whether a path exists.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, fs.ErrNotExist)
}
