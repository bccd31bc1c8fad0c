// Package ha runs a highly available kubeadm control plane under bosun:
// three control-plane nodes with stacked etcd on one machine, the first made
// by `kubeadm init --control-plane-endpoint VIP --upload-certs`, the other two
// by `kubeadm join --control-plane` through TLS bootstrap, and then loses
// bosun, a whole node and quorum on purpose while a client writes and reads
// through the endpoint every 100 ms.
//
// Each node is a network namespace (a veth pair to a bridge the test makes,
// addresses of its own subnet only) and a mount namespace whose kubeadm
// paths (/etc/kubernetes, /var/lib/etcd, /var/lib/kubelet) are private bind
// mounts of the node's own directories; in them run the node's own
// containerd (own root, state and socket), its bosun and its kubeadm. The
// control-plane endpoint is a virtual IP held by one node at a time with a
// TCP load balancer on it (e2e/internal/frontdoor), as keepalived and haproxy
// provide on a real cluster. Run it with make e2e-ha (root).
package ha

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
	subnet    = "10.214.0.%d"
	gatewayIP = "10.214.0.1"
	vip       = "10.214.0.100"
	// vipPort is the load balancer's port on the VIP: kube-apiserver binds
	// 6443 on every address of its node, the VIP's too, so the balancer in
	// front of it listens on another port, as in kubeadm's HA guide.
	vipPort  = 8443
	numNodes = 3
)

// kubeadm's fixed paths: each node's mount namespace binds its own
// directory over them. The host keeps them as empty mount points while the
// test runs.
var fixedPaths = []string{"/etc/kubernetes", "/var/lib/etcd", "/var/lib/kubelet"}

var (
	kubeVersion = envOr("KUBE_VERSION", "v1.37.2")
	here        string // this package's directory, absolute: nsenter --mount starts in /
	kubeBin     string
	etcdBin     string
	work        string
	bosunBin    string
	bridge      string
	pauseImage  string
	nodes       []*node
	// madePaths are the fixed paths this run made, and removes.
	madePaths []string
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
		fmt.Println("ha: skipped, needs root (run: sudo make e2e-ha)")
		return 0
	}
	for _, p := range fixedPaths {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			fmt.Printf("ha: refusing to run: %s exists (kubeadm's fixed path; this test makes it an empty mount point and removes it;"+
				" a test killed by its -timeout leaves it behind, with its processes (ip netns pids bosun-ha-*) and namespaces (ip netns del bosun-ha-*))\n", p)
			return 1
		}
	}
	var err error
	if here, err = os.Getwd(); err != nil {
		fmt.Println("ha:", err)
		return 1
	}
	kubeBin = absPath(envOr("KUBE_BIN", "../../bin/kube-"+kubeVersion))
	etcdBin = absPath(envOr("ETCD_BIN", "../../bin/etcd-"+envOr("ETCD_VERSION", "v3.7.0")))
	if work, err = os.MkdirTemp("", "bosun-ha-"); err != nil {
		fmt.Println("ha:", err)
		return 1
	}
	defer os.RemoveAll(work)
	defer tearDown()
	if err := setUp(); err != nil {
		fmt.Println("ha: set-up:", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		keepLogs()
	}
	return code
}

// keepLogs copies each node's bosun log and container logs out of the
// test's directory, which is removed, and says where.
func keepLogs() {
	dir, err := os.MkdirTemp("", "bosun-ha-logs-")
	if err != nil {
		fmt.Println("ha: keep logs:", err)
		return
	}
	for _, n := range nodes {
		to := filepath.Join(dir, n.name)
		if err := os.MkdirAll(to, 0o755); err != nil {
			fmt.Println("ha: keep logs:", err)
			return
		}
		for _, f := range []string{"bosun.log", "pods", "containerd/containerd.log"} {
			if out, err := exec.Command("cp", "-r", filepath.Join(n.dir, f), to).CombinedOutput(); err != nil {
				fmt.Printf("ha: keep logs: %v: %s\n", err, out)
			}
		}
	}
	fmt.Println("ha: the nodes' bosun, container and containerd logs are in", dir)
}

func absPath(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(here, p)
}

func setUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, b := range []string{kubeBin + "/kubeadm", kubeBin + "/kube-apiserver", kubeBin + "/kube-controller-manager", kubeBin + "/kube-scheduler", etcdBin + "/etcd"} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%w (build it with hack/kube/build.sh, or run make e2e-ha)", err)
		}
	}
	bosunBin = filepath.Join(work, "bosun")
	build := exec.CommandContext(ctx, "go", "build", "-o", bosunBin, "./cmd/bosun")
	build.Dir = filepath.Join(here, "../..")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build bosun: %w: %s", err, out)
	}
	images, err := cpkit.KubeadmImages(ctx, kubeBin+"/kubeadm", kubeVersion)
	if err != nil {
		return err
	}
	pauseImage = images["pause"]
	if out, err := exec.CommandContext(ctx, filepath.Join(here, "../../hack/containerd.sh"), "install").CombinedOutput(); err != nil {
		return fmt.Errorf("hack/containerd.sh install: %w: %s", err, out)
	}
	for _, p := range fixedPaths {
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
		madePaths = append(madePaths, p)
	}
	if err := createBridge(); err != nil {
		return err
	}
	hosts := "127.0.0.1 localhost\n::1 localhost\n"
	for i := 1; i <= numNodes; i++ {
		hosts += fmt.Sprintf(subnet+" ha-%d\n", 10+i, i)
	}
	if err := os.WriteFile(filepath.Join(work, "hosts"), []byte(hosts), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "resolv.conf"), []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		return err
	}
	archives, err := cpkit.ImageArchives(work, filepath.Join(here, "../../hack/pause"), images, kubeBin, etcdBin)
	if err != nil {
		return err
	}
	for i := 1; i <= numNodes; i++ {
		n, err := newNode(i)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
		if err := n.boot(ctx); err != nil {
			return err
		}
		if _, err := testimages.Import(ctx, n.containerdSock(), archives); err != nil {
			return fmt.Errorf("%s: %w", n.name, err)
		}
	}
	c, info, err := runtime.Dial(ctx, "unix://"+nodes[0].containerdSock(), slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	c.Close()
	fmt.Printf("ha: %d nodes, each with %s %s, kubeadm %s, bridge %s\n", numNodes, info.RuntimeName, info.RuntimeVersion, kubeVersion, bridge)
	return nil
}

// tearDown ends every process of every node, removes the namespaces, the
// bridge and the fixed paths' mount points.
func tearDown() {
	for _, n := range nodes {
		// bosun first, so that nothing starts the containers again; then
		// containerd's own stop, which removes its tasks (and their
		// cgroups); then whatever is left of the node.
		if n.bosun != nil {
			_ = n.bosun.Process.Kill()
			<-n.exited
			n.bosun = nil
		}
		if n.holder != nil {
			if out, err := n.command(context.Background(), filepath.Join(here, "../../hack/containerd.sh"), "stop", n.containerdDir()).CombinedOutput(); err != nil {
				fmt.Printf("ha: %s: hack/containerd.sh stop: %v\n%s", n.name, err, out)
			}
		}
		n.powerOff()
		if out, err := exec.Command("ip", "netns", "del", n.netns).CombinedOutput(); err != nil {
			fmt.Printf("ha: ip netns del %s: %v: %s\n", n.netns, err, out)
		}
	}
	if bridge != "" {
		if out, err := exec.Command("ip", "link", "del", bridge).CombinedOutput(); err != nil {
			fmt.Printf("ha: ip link del %s: %v: %s\n", bridge, err, out)
		}
	}
	for _, p := range madePaths {
		// Remove, not RemoveAll: on the host they are empty mount points,
		// and nothing of a node is removed through them.
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Printf("ha: remove %s: %v\n", p, err)
		}
	}
}

func createBridge() error {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	bridge = "bha" + hex.EncodeToString(b)
	return ipAll([][]string{
		{"link", "add", bridge, "type", "bridge"},
		{"addr", "add", gatewayIP + "/24", "dev", bridge},
		{"link", "set", bridge, "up"},
	})
}

func ipAll(cmds [][]string) error {
	for _, args := range cmds {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}
