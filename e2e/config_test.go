package e2e

import (
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

// kubeadmConfig is the KubeletConfiguration `kubeadm init phase
// kubelet-start` v1.37.2 writes (see the kubeletconfig package's test).
const kubeadmConfig = "../cmd/bosun/internal/kubeletconfig/testdata/kubeadm-v1.37.2.yaml"

// bosun run --config with kubeadm's file starts, warns once about the fields
// it has no use for, and answers /healthz and /readyz where the file's
// healthzBindAddress and healthzPort say. Only the port differs from
// kubeadm's file (10248 may be taken by a test of the real control plane);
// staticPodPath and containerRuntimeEndpoint are overridden by flags, which
// win, to use this test's directory and containerd.
func TestKubeadmKubeletConfig(t *testing.T) {
	b, err := os.ReadFile(kubeadmConfig)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cfg := strings.Replace(string(b), "healthzPort: 10248\n", "healthzPort: "+strconv.Itoa(port)+"\n", 1)
	// kubeadm writes resolvConf only where systemd-resolved runs, which
	// is where that file exists: without it, the file is as kubeadm writes
	// it on this host.
	if _, err := os.Stat("/run/systemd/resolve/resolv.conf"); err != nil {
		cfg = strings.Replace(cfg, "resolvConf: /run/systemd/resolve/resolv.conf\n", "", 1)
	}
	if !strings.Contains(cfg, "healthzPort: "+strconv.Itoa(port)+"\n") || !strings.Contains(cfg, "fileCheckFrequency: 0s\n") {
		t.Fatalf("unexpected kubeadm config:\n%s", cfg)
	}
	base := t.TempDir()
	cfgFile := filepath.Join(base, "config.yaml")
	manifests := filepath.Join(base, "manifests")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(manifests, 0o700); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(base, "bosun.log")
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bosunBin, "run", "--config", cfgFile,
		"--pod-manifest-path", manifests, "--container-runtime-endpoint", endpoint,
		"--hostname-override", randomName("node"), "--root-dir", filepath.Join(base, "root"),
		"--pod-logs-dir", filepath.Join(base, "logs"), "--api-socket", filepath.Join(base, "run", "bosun.sock"),
		"--metrics-bind-address", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("bosun did not exit within 20s of SIGTERM")
		}
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("bosun log:\n%s", b)
		}
	})

	healthz := "http://127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{Timeout: 2 * time.Second}
	answers := func(path string) bool {
		select {
		case <-exited:
			t.Fatalf("bosun exited: %v", waitErr)
		default:
		}
		r, err := client.Get(healthz + path)
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusOK
	}
	eventually(t, time.Minute, "/healthz on the config's address", func() bool { return answers("/healthz") })
	eventually(t, time.Minute, "/readyz on the config's address", func() bool { return answers("/readyz") })

	l, _ := os.ReadFile(logFile)
	want := `msg="config fields bosun has no use for are ignored" file=` + cfgFile + ` fields=authentication,authorization`
	if n := strings.Count(string(l), "no use for are ignored"); n != 1 || !strings.Contains(string(l), want) {
		t.Errorf("want one warning %q, got %d in:\n%s", want, n, l)
	}
}
