// Package controlplane runs kubeadm's control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, built from the Go module proxy by
// hack/kube/build.sh) under bosun on a private containerd, the way a user
// makes one with `kubeadm init` and upgrades it with `kubeadm upgrade apply`,
// checks the cluster sees bosun's Node and mirror pods, and breaks it on
// purpose.
//
// Everything runs in a network namespace the test creates: kubeadm refuses a
// loopback advertise address and needs a default route, and the test may not
// use the machine's own address. kubeadm's paths are fixed (/etc/kubernetes,
// /var/lib/etcd, /var/lib/kubelet): the test refuses to run when one exists
// and removes them afterwards. Run it with make e2e-controlplane (root).
//
// BOSUN_CP_AGENT=bosun,kubelet runs TestUpgrade under each agent in turn
// on the same containerd, the kubelet as kubeadm's systemd drop-in runs it
// (kubelet_test.go): make controlplane-vs-kubelet prints both tables.
package controlplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/e2e/internal/cpkit"
	"github.com/bosun-sh/bosun/hack/testimages"
	"github.com/bosun-sh/bosun/runtime"
)

const (
	// The network namespace's address (kubeadm's advertise address) and its
	// peer outside, the default route.
	nodeIP    = "10.213.0.2"
	gatewayIP = "10.213.0.1"
	nodeName  = "cp-node"
)

// kubeadm's fixed paths: the test owns them while it runs.
var fixedPaths = []string{"/etc/kubernetes", "/var/lib/etcd", "/var/lib/kubelet"}

// Set up once for the test.
var (
	kubeVersion = envOr("KUBE_VERSION", "v1.37.2")
	kubeBin     = envOr("KUBE_BIN", "../../bin/kube-"+kubeVersion)
	// The release TestUpgrade initialises and upgrades from to kubeVersion;
	// TestUpgrade is skipped without it.
	kubeOldVersion = os.Getenv("KUBE_OLD_VERSION")
	oldKubeBin     = envOr("KUBE_OLD_BIN", "../../bin/kube-"+kubeOldVersion)
	etcdBin        = envOr("ETCD_BIN", "../../bin/etcd-"+envOr("ETCD_VERSION", "v3.7.0"))
	work           string
	bosunBin       string
	containerdDir  string
	endpoint       string
	netns          string // name; its path is /run/netns/NAME
	cri            *runtime.Client
	criVersion     string
	// pauseImage is the sandbox image kubeadm names, set in containerd's
	// configuration by hack/containerd.sh start and restart.
	pauseImage string
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Println("controlplane: skipped, needs root (run: sudo make e2e-controlplane)")
		return 0
	}
	for _, p := range fixedPaths {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			fmt.Printf("controlplane: refusing to run: %s exists (kubeadm's fixed path; this test would replace and remove it;"+
				" a test killed by its -timeout leaves it behind, with its containerd (hack/containerd.sh stop /tmp/bosun-cp-*/containerd)"+
				" and network namespace (ip netns del bosun-cp-*))\n", p)
			return 1
		}
	}
	var err error
	if work, err = os.MkdirTemp("", "bosun-cp-"); err != nil {
		fmt.Println("controlplane:", err)
		return 1
	}
	defer os.RemoveAll(work)
	defer removeFixedPaths()
	containerdDir = filepath.Join(work, "containerd")
	endpoint = "unix://" + filepath.Join(containerdDir, "containerd.sock")
	defer deleteNetns()
	defer func() {
		if out, err := exec.Command("../../hack/containerd.sh", "stop", containerdDir).CombinedOutput(); err != nil {
			fmt.Printf("controlplane: stop containerd: %v\n%s", err, out)
		}
	}()
	if err := setUp(); err != nil {
		fmt.Println("controlplane: set-up:", err)
		if b, rerr := os.ReadFile(filepath.Join(containerdDir, "containerd.log")); rerr == nil {
			fmt.Printf("containerd log:\n%s\n", tail(string(b), 50))
		}
		return 1
	}
	defer cri.Close()
	return m.Run()
}

func removeFixedPaths() {
	for _, p := range fixedPaths {
		if err := os.RemoveAll(p); err != nil {
			fmt.Printf("controlplane: remove %s: %v\n", p, err)
		}
	}
}

func setUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, a := range agents {
		if a != "bosun" && a != "kubelet" {
			return fmt.Errorf("BOSUN_CP_AGENT: %q is neither bosun nor kubelet", a)
		}
		if _, err := os.Stat(kubeletBin); a == "kubelet" && err != nil {
			return fmt.Errorf("%w (build it with KUBE_VERSION=%s hack/kube/build.sh kubelet, or run make controlplane-vs-kubelet)", err, kubeVersion)
		}
	}
	for _, b := range []string{kubeBin + "/kubeadm", kubeBin + "/kube-apiserver", kubeBin + "/kube-controller-manager", kubeBin + "/kube-scheduler", etcdBin + "/etcd"} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%w (build it with hack/kube/build.sh, or run make e2e-controlplane)", err)
		}
	}
	bosunBin = filepath.Join(work, "bosun")
	build := exec.CommandContext(ctx, "go", "build", "-o", bosunBin, "./cmd/bosun")
	build.Dir = "../.." // bosun's own module: e2e is a module of its own
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build bosun: %w: %s", err, out)
	}
	images, err := kubeadmImages(ctx, kubeBin, kubeVersion)
	if err != nil {
		return err
	}
	if err := createNetns(); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "../../hack/containerd.sh", "install").CombinedOutput(); err != nil {
		return fmt.Errorf("hack/containerd.sh install: %w: %s", err, out)
	}
	pauseImage = images["pause"]
	if out, err := containerdCommand(ctx, "start").CombinedOutput(); err != nil {
		return fmt.Errorf("hack/containerd.sh start: %w: %s", err, out)
	}
	if err := importImages(ctx, images, kubeBin); err != nil {
		return err
	}
	c, info, err := runtime.Dial(ctx, endpoint, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	criVersion = info.RuntimeName + " " + info.RuntimeVersion
	fmt.Printf("controlplane: %s at %s, kubeadm %s, netns %s\n", criVersion, endpoint, kubeVersion, netns)
	cri = c
	return nil
}

// kubeadmImages maps each image's short name to the reference the kubeadm
// in bin names for version.
func kubeadmImages(ctx context.Context, bin, version string) (map[string]string, error) {
	return cpkit.KubeadmImages(ctx, bin+"/kubeadm", version)
}

// importImages builds one single-binary image for each component kubeadm
// runs, named as kubeadm names it, from the binaries in bin (etcd's from
// etcdBin: the same etcd under each release's tag), and imports them into
// the test's containerd (cpkit.ImageArchives).
func importImages(ctx context.Context, images map[string]string, bin string) error {
	archives, err := cpkit.ImageArchives(work, "../../hack/pause", images, bin, etcdBin)
	if err != nil {
		return err
	}
	_, err = testimages.Import(ctx, filepath.Join(containerdDir, "containerd.sock"), archives)
	for _, a := range archives {
		_ = os.Remove(a)
	}
	return err
}

func createNetns() error {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	netns = "bosun-cp-" + hex.EncodeToString(b)
	host := "bcp" + hex.EncodeToString(b)
	for _, args := range [][]string{
		{"netns", "add", netns},
		{"link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", netns},
		{"addr", "add", gatewayIP + "/24", "dev", host},
		{"link", "set", host, "up"},
		{"-n", netns, "link", "set", "lo", "up"},
		{"-n", netns, "addr", "add", nodeIP + "/24", "dev", "eth0"},
		{"-n", netns, "link", "set", "eth0", "up"},
		{"-n", netns, "route", "add", "default", "via", gatewayIP},
		// kubeadm's preflight wants forwarding on; a new namespace takes
		// the host's setting, off on a fresh machine until a CNI bridge
		// turns it on (the e2e tests before this one do).
		{"netns", "exec", netns, "sh", "-c", "echo 1 >/proc/sys/net/ipv4/ip_forward"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// deleteNetns removes the namespace, and with it both ends of the veth.
func deleteNetns() {
	if netns == "" {
		return
	}
	if out, err := exec.Command("ip", "netns", "del", netns).CombinedOutput(); err != nil {
		fmt.Printf("controlplane: ip netns del %s: %v: %s\n", netns, err, out)
	}
}

func netnsPath() string { return "/run/netns/" + netns }

// netnsCommand is a command that runs in the test's network namespace; its
// mount namespace and cgroups stay the host's.
func netnsCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + netnsPath(), "--", name}, args...)...)
}

// containerdCommand runs hack/containerd.sh VERB on the test's containerd in
// the network namespace, so that its shims, and the hostNetwork pods, are
// there too.
func containerdCommand(ctx context.Context, verb string) *exec.Cmd {
	cmd := netnsCommand(ctx, "../../hack/containerd.sh", verb, containerdDir)
	cmd.Env = append(os.Environ(), "PAUSE_IMAGE="+pauseImage)
	return cmd
}

func tail(s string, n int) string { return cpkit.Tail(s, n) }
