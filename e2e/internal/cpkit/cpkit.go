// Package cpkit holds what the kubeadm control-plane e2e tests
// (e2e/controlplane, one node; e2e/ha, three) share: the images kubeadm
// names, built from the test's own binaries, and small checks and waits.
package cpkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/hack/testimages"
)

// KubeadmImages maps each image's short name (kube-apiserver, etcd, pause,
// coredns, kube-proxy, ...) to the reference the kubeadm binary names for
// the release.
func KubeadmImages(ctx context.Context, kubeadm, version string) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, kubeadm, "config", "images", "list", "--kubernetes-version", version).Output()
	if err != nil {
		return nil, fmt.Errorf("kubeadm config images list: %w", err)
	}
	images := map[string]string{}
	for _, ref := range strings.Fields(string(out)) {
		name := ref[strings.LastIndex(ref, "/")+1:]
		images[name[:strings.Index(name, ":")]] = ref
	}
	for _, want := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "pause", "coredns", "kube-proxy"} {
		if images[want] == "" {
			return nil, fmt.Errorf("kubeadm config images list names no %s image:\n%s", want, out)
		}
	}
	return images, nil
}

// ImageArchives builds, in dir, one single-binary image archive per
// component kubeadm runs, named as images names it: the control plane's
// from kubeBin, etcd's from etcdBin, and the pause binary (built from
// pauseSrc into dir once) for the pause image and for the addons (CoreDNS,
// kube-proxy), which kubeadm's preflight pulls and nothing runs here: bosun
// runs only static pods.
func ImageArchives(dir, pauseSrc string, images map[string]string, kubeBin, etcdBin string) ([]string, error) {
	pauseBin := filepath.Join(dir, "pause")
	if _, err := os.Stat(pauseBin); err != nil {
		cmd := exec.Command("go", "build", "-o", pauseBin, ".")
		cmd.Dir = pauseSrc
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build pause: %w: %s", err, out)
		}
	}
	bins := map[string]string{
		"kube-apiserver":          kubeBin + "/kube-apiserver",
		"kube-controller-manager": kubeBin + "/kube-controller-manager",
		"kube-scheduler":          kubeBin + "/kube-scheduler",
		"etcd":                    etcdBin + "/etcd",
		"pause":                   pauseBin,
		"coredns":                 pauseBin,
		"kube-proxy":              pauseBin,
	}
	var archives []string
	for name, b := range bins {
		a := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(images[name])+".tar")
		if err := testimages.BuildBinary(a, images[name], b); err != nil {
			return nil, err
		}
		archives = append(archives, a)
	}
	return archives, nil
}

// SameContainers says how two snapshots of running containers (by name)
// differ, by ID and attempt; nil when they do not.
func SameContainers(before, after map[string]*runtimeapi.Container) error {
	for name, b := range before {
		a := after[name]
		if a == nil {
			return fmt.Errorf("container %s (%.13s) no longer runs", name, b.Id)
		}
		if a.Id != b.Id || a.Metadata.Attempt != b.Metadata.Attempt {
			return fmt.Errorf("container %s: was %.13s attempt %d, now %.13s attempt %d", name, b.Id, b.Metadata.Attempt, a.Id, a.Metadata.Attempt)
		}
	}
	if len(after) != len(before) {
		return fmt.Errorf("%d containers ran, now %d", len(before), len(after))
	}
	return nil
}

// Eventually polls cond every 50 ms until it holds, or fails the test at
// timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Tail is the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Clientset is client-go as a kubeadm kubeconfig (admin.conf) says, with a
// 5 s timeout per request; dial, when not nil, makes its connections (in a
// test's network namespace).
func Clientset(path string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	cfg.Dial = dial
	cfg.Timeout = 5 * time.Second
	cfg.QPS, cfg.Burst = 50, 100
	return kubernetes.NewForConfig(cfg)
}
