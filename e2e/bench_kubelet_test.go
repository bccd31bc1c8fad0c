//go:build bench

package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
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

// The peer: the kubelet in standalone mode (no API server, static pods from
// a directory) on the bench's private containerd, `make bench PEER=kubelet`.
// It listens on 127.0.0.1 only, keeps its state in the test's directories,
// and runs in a mount namespace of its own where:
//   - the kernel settings it would otherwise change on the host
//     (vm.overcommit_memory, kernel.panic, kernel.panic_on_oops, ...) read
//     as the values it wants (protectKernelDefaults makes it fail rather
//     than write them, should that ever not hold);
//   - /var/lib/kubelet (its device-plugin socket) and /var/log/containers
//     (its log links), which it uses whatever its flags say, are
//     directories of the test.

// kubeletSysctls are the values the kubelet wants (setupKernelTunables).
var kubeletSysctls = map[string]string{
	"vm.overcommit_memory":      "1",
	"vm.panic_on_oom":           "0",
	"kernel.panic":              "10",
	"kernel.panic_on_oops":      "1",
	"kernel.keys.root_maxkeys":  "1000000",
	"kernel.keys.root_maxbytes": "25000000",
}

// kubeletHostDirs are directories the kubelet writes whatever its flags
// say; the bench gives it its own in their place.
var kubeletHostDirs = []string{"/var/lib/kubelet", "/var/log/containers"}

type kubelet struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	port    int
	logFile string
}

// startKubelet starts the kubelet at bin on the bench's containerd and
// returns it as a subject once its /healthz answers.
func startKubelet(t *testing.T, bin string) *subject {
	e := newEnv(t)
	base := filepath.Dir(e.dir)
	k := &kubelet{port: freePort(t), logFile: filepath.Join(base, "kubelet.log")}
	healthz := freePort(t)
	sys := filepath.Join(base, "sysctl")
	if err := os.MkdirAll(sys, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, v := range kubeletSysctls {
		if err := os.WriteFile(filepath.Join(sys, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A host directory made here only to mount over is removed afterwards.
	var made []string
	for _, d := range kubeletHostDirs {
		if _, err := os.Stat(d); os.IsNotExist(err) {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			made = append(made, d)
		}
		if err := os.MkdirAll(filepath.Join(base, "host", filepath.Base(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: %s
address: 127.0.0.1
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
containerRuntimeEndpoint: %s
failSwapOn: false
failCgroupV1: false
protectKernelDefaults: true
podLogsDir: %s
volumePluginDir: %s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`, e.dir, k.port, healthz, endpoint, e.logsDir, filepath.Join(base, "volume-plugins"))
	cfgFile := filepath.Join(base, "kubelet.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// In the new mount namespace: the sysctl files over /proc/sys, the
	// test's directories over the host's, then the kubelet.
	script := `set -e
for f in "$SYSCTLS"/*; do n=$(basename "$f" | tr . /); mount --bind "$f" "/proc/sys/$n"; done
mount --bind "$HOSTDIRS/kubelet" /var/lib/kubelet
mount --bind "$HOSTDIRS/containers" /var/log/containers
exec "$@"`
	cmd := exec.Command("unshare", "--mount", "--propagation", "slave", "sh", "-c", script, "sh",
		bin, "--config", cfgFile, "--root-dir", e.rootDir, "--cert-dir", filepath.Join(base, "pki"), "--hostname-override", e.node)
	cmd.Env = append(os.Environ(), "SYSCTLS="+sys, "HOSTDIRS="+filepath.Join(base, "host"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	log, err := os.Create(k.logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	log.Close()
	k.cmd, k.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(k.exited) }()
	t.Cleanup(func() {
		k.stop()
		if t.Failed() {
			b, _ := os.ReadFile(k.logFile)
			t.Logf("kubelet log (tail):\n%s", tail(b, 60))
		}
		s := &subject{e: e, leavesSandboxes: true}
		for _, sb := range s.sandboxes(t, "") {
			removeSandbox(sb.Id)
		}
		removeKubepods()
		for _, d := range made {
			_ = os.Remove(d)
		}
	})
	waitUntil(t, "the kubelet's /healthz", 2*time.Minute, 200*time.Millisecond, func() bool {
		select {
		case <-k.exited:
			b, _ := os.ReadFile(k.logFile)
			t.Fatalf("the kubelet exited:\n%s", tail(b, 30))
		default:
		}
		r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", healthz))
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusOK
	})
	return &subject{name: "kubelet", e: e, pid: func() int { return cmd.Process.Pid }, criCalls: k.criCalls, leavesSandboxes: true}
}

func (k *kubelet) stop() {
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
	case <-time.After(20 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.exited
	}
}

// criCalls reads kubelet_runtime_operations_total from the kubelet's
// /metrics (its CRI calls by operation).
func (k *kubelet) criCalls(t *testing.T) map[string]float64 {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		// Its own self-signed serving certificate, on loopback.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
	}}
	r, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/metrics", k.port))
	if err != nil {
		t.Logf("kubelet metrics: %v", err)
		return nil
	}
	defer r.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(r.Body, 64<<20))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	const name = "kubelet_runtime_operations_total{"
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, name) {
			continue
		}
		i := strings.LastIndex(l, " ")
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err == nil {
			out[l[len(name):i]] = v
		}
	}
	return out
}

// removeKubepods removes the kubelet's QoS cgroups (empty once its pods are
// gone), deepest first.
func removeKubepods() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	for _, top := range dirs {
		var all []string
		_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				all = append(all, p)
			}
			return nil
		})
		for i := len(all) - 1; i >= 0; i-- {
			_ = os.Remove(all[i])
		}
	}
}
