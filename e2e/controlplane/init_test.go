package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/bosun-sh/bosun/runtime"
)

// initIgnored are the preflight checks of `kubeadm init` a node run by bosun
// fails, each for a reason that is not a problem on such a node:
//   - KubeletVersion: the check runs `kubelet --version`, and there is no
//     kubelet binary; bosun is the node agent.
//   - SystemVerification: the check runs `kubelet --version` too, to choose
//     the cgroup checks for that kubelet release, and fails without a kubelet
//     binary before it checks anything (the kernel and cgroup checks are
//     skipped with it).
//
// Nothing else is ignored: the other checks pass on this node or only warn
// (the kubelet's systemd unit is missing; containerd 1.6 lacks the CRI
// RuntimeConfig call, and the KubeletConfiguration names the cgroup driver).
var initIgnored = []string{"KubeletVersion", "SystemVerification"}

// kubeletConfigFile is the KubeletConfiguration kubeadm init writes in its
// kubelet-start phase, and bosun reads.
const kubeletConfigFile = "/var/lib/kubelet/config.yaml"

// controlPlane is a control plane kubeadm init made under bosun.
type controlPlane struct {
	r   *runner
	api *apiClient           // the prober's client: raw HTTPS, one connection per request
	kc  kubernetes.Interface // client-go, as admin.conf says
	// initTook is the wall time of kubeadm init.
	initTook time.Duration
}

// kubeadmConfig is what a user gives kubeadm for a node run by bosun: the
// node's address and name, the CRI socket, the release, and a kubelet
// configuration whose cgroup driver matches the runtime's (the test's
// containerd uses cgroupfs).
func kubeadmConfig(version string) string {
	return fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: %s
  bindPort: 6443
nodeRegistration:
  name: %s
  criSocket: %s
%s---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: %s
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
%s`, nodeIP, nodeName, endpoint, initConfigExtra(), version, kubeletConfigExtra())
}

// kubeadmInit runs `kubeadm init` of the release in bin as one command, with
// bosun as the node agent, and waits until the Node is a Ready control-plane
// node and the four mirror pods match what bosun runs.
//
// bosun is started the way its systemd unit (Restart=always, as the
// kubelet's) behaves on a node where kubeadm init runs: it cannot start
// before kubeadm's kubelet-start phase writes /var/lib/kubelet/config.yaml,
// so the test starts it as soon as that file exists, while kubeadm init goes
// on in the background; kubeadm's wait-control-plane then finds bosun's
// /healthz and the static pods, and mark-control-plane the Node bosun
// registers.
func kubeadmInit(t *testing.T, m *measured, name, bin, version string) *controlPlane {
	t.Helper()
	cfg := filepath.Join(work, "kubeadm-"+name+".yaml")
	if err := os.WriteFile(cfg, []byte(kubeadmConfig(version)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	args := []string{"init", "--config", cfg, "--ignore-preflight-errors=" + strings.Join(initIgnored, ",")}
	var out bytes.Buffer
	cmd := netnsCommand(ctx, bin+"/kubeadm", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cp := &controlPlane{r: newRunner(t, name)}
	// A kubelet is stopped and its node reset when kubeadm init fails here:
	// the caller's defers are not there yet.
	returned := false
	defer func() {
		if !returned && agent == "kubelet" {
			cp.r.kill(syscall.SIGTERM)
			resetNode(t, cp.r)
		}
	}()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if agent == "kubelet" {
		cordonCtx, stopCordon := context.WithCancel(ctx)
		defer stopCordon()
		go cordonWhenRegistered(cordonCtx, t)
	}
	var initErr error
	exited := false
	for !exited {
		if _, err := os.Stat(kubeletConfigFile); err == nil {
			break
		}
		select {
		case initErr = <-done:
			exited = true
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !exited {
		t.Logf("%s written %v after kubeadm init started: %s starts", kubeletConfigFile, time.Since(start).Round(time.Millisecond), agent)
		cp.r.start()
		initErr = <-done
	}
	cp.initTook = time.Since(start)
	if initErr != nil {
		if cp.r.cmd != nil && agent == "kubelet" {
			t.Logf("the kubelet's pod lifecycle, from its log:\n%s", kubeletTimeline(cp.r.log()))
		} else if cp.r.cmd != nil {
			t.Logf("bosun log (tail):\n%s", tail(cp.r.log(), 80))
		}
		t.Fatalf("kubeadm %s: %v after %v\n%s", strings.Join(args, " "), initErr, cp.initTook.Round(time.Millisecond), out.String())
	}
	t.Logf("kubeadm %s: ok in %v\n%s", strings.Join(args, " "), cp.initTook.Round(time.Millisecond), tail(out.String(), 30))
	m.add(fmt.Sprintf("`kubeadm init` %s (one command) wall time", version), secs(cp.initTook))
	if cp.r.cmd == nil {
		t.Fatalf("kubeadm init ended before it wrote %s", kubeletConfigFile)
	}
	var err error
	if cp.api, err = newAPIClient("/etc/kubernetes/admin.conf"); err != nil {
		t.Fatal(err)
	}
	if cp.kc, err = newClientset("/etc/kubernetes/admin.conf"); err != nil {
		t.Fatal(err)
	}
	waitNode(t, cp.kc, time.Minute)
	took := waitMirrors(t, cp.kc, cp.r, 2*time.Minute, "after kubeadm init")
	m.add("kubeadm init done → Node Ready and the four mirror pods Running, Ready, matching "+agent, secs(took))
	returned = true
	return cp
}

// stop stops bosun (it leaves its pods running, as the kubelet does).
func (cp *controlPlane) stop(t *testing.T) {
	cp.r.t = t
	if agent == "kubelet" {
		t.Logf("the kubelet's pod lifecycle, from its log:\n%s", kubeletTimeline(cp.r.log()))
	}
	if t.Failed() && agent == "kubelet" {
		t.Logf("kubelet log (tail):\n%s", tail(cp.r.log(), 150))
	} else if t.Failed() {
		t.Logf("bosun's API side, its log lines but debug:\n%s", tail(apiSideLines(cp.r.log()), 200))
		t.Logf("bosun log (tail):\n%s", tail(cp.r.log(), 100))
		if ps, err := cp.r.cliErr("ps"); err == nil {
			t.Logf("bosun ps:\n%s", ps)
		}
	}
	cp.r.kill(syscall.SIGTERM)
}

// resetNode removes what kubeadm init and bosun leave on the node, so that
// the next test starts from a clean one: bosun's pods (through the CRI, once
// bosun is stopped, so that nothing recreates them) and kubeadm's fixed
// paths. It does what `kubeadm reset -f` does for a node with bosun stopped,
// without reset's attempt to remove the etcd member through the API (a
// one-member etcd cannot lose its only member) and without crictl.
func resetNode(t *testing.T, r *runner) {
	t.Helper()
	if agent == "kubelet" {
		resetKubelet(t, r.madeContainersDir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sandboxes, err := cri.ListPodSandbox(ctx, runtime.ManagedSelector())
	if err != nil {
		t.Errorf("reset: %v", err)
	}
	for _, s := range sandboxes {
		if err := cri.StopPodSandbox(ctx, s.Id); err != nil {
			t.Errorf("reset: stop sandbox %s: %v", s.Metadata.Name, err)
		}
		if err := cri.RemovePodSandbox(ctx, s.Id); err != nil {
			t.Errorf("reset: remove sandbox %s: %v", s.Metadata.Name, err)
		}
	}
	removeFixedPaths()
	for _, p := range fixedPaths {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("reset: %s still exists", p)
		}
	}
}

// netnsKubeadm runs a kubeadm command in the network namespace and returns
// its output and how long it took.
func netnsKubeadm(t *testing.T, bin string, timeout time.Duration, args ...string) (string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	out, err := netnsCommand(ctx, bin+"/kubeadm", args...).CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("kubeadm %s: %v after %v\n%s", strings.Join(args, " "), err, took.Round(time.Millisecond), out)
	}
	t.Logf("kubeadm %s: ok in %v\n%s", strings.Join(args, " "), took.Round(time.Millisecond), tail(string(out), 25))
	return string(out), took
}

// apiSideLines are the lines of bosun's log from its API side, but debug.
func apiSideLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "component=api-side") && !strings.Contains(l, "level=DEBUG") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
