package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

const testNode = "cp-1"

// fakeRuntime is a Runtime whose readiness a test sets.
type fakeRuntime struct{ ready atomic.Bool }

func (r *fakeRuntime) Ready() bool { return r.ready.Load() }

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu  stdsync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many log lines contain s.
func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a controller running against a fake API server, a fake clock
// and a fixture machine.
type harness struct {
	t       *testing.T
	client  *fake.Clientset
	clock   *clocktesting.FakeClock
	runtime *fakeRuntime
	logs    *logBuffer
	c       *Controller
	cancel  context.CancelFunc
	done    chan struct{}
}

// newHarness returns a harness whose controller is not started yet; edit
// h.c.cfg before start.
func newHarness(t *testing.T, objects ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewClientset(objects...)
	var uids atomic.Int64
	client.PrependReactor("create", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		n := a.(k8stesting.CreateAction).GetObject().(*corev1.Node)
		if n.UID == "" {
			n.UID = types.UID(fmt.Sprintf("uid-%d", uids.Add(1)))
		}
		return false, nil, nil
	})
	h := &harness{
		t:       t,
		client:  client,
		clock:   clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		runtime: &fakeRuntime{},
		logs:    &logBuffer{},
	}
	h.runtime.ready.Store(true)
	h.c = New(Config{
		Client:             client,
		NodeName:           testNode,
		Hostname:           testNode,
		NodeIP:             "10.0.0.7",
		Labels:             map[string]string{"node.kubernetes.io/bosun": "", "example.com/rack": "r1"},
		Taints:             []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}},
		Runtime:            h.runtime,
		RuntimeVersion:     "containerd://1.6.20",
		KubeletVersion:     "v1.37.2",
		RootDir:            "/var/lib/bosun",
		LeaseRenewInterval: 20 * time.Millisecond,
		Clock:              h.clock,
		Log:                slog.New(slog.NewTextHandler(h.logs, nil)),
	})
	h.c.host = fixtureHost(t)
	return h
}

// start runs the controller until the test ends.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		h.c.Run(ctx)
	}()
	h.t.Cleanup(func() {
		cancel()
		<-h.done
	})
}

// idle waits until the controller sleeps on the fake clock.
func (h *harness) idle() {
	h.t.Helper()
	eventually(h.t, "the controller waits on the clock", h.clock.HasWaiters)
}

// step waits for the controller to sleep, moves the clock by d, and waits
// for the controller to finish what that woke.
func (h *harness) step(d time.Duration) {
	h.t.Helper()
	h.idle()
	h.clock.Step(d)
	h.idle()
}

// node returns the Node as the API has it, or nil.
func (h *harness) node() *corev1.Node {
	n, err := h.client.CoreV1().Nodes().Get(context.Background(), testNode, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return n
}

// registered waits for the Node to exist and the controller to be idle.
func (h *harness) registered() *corev1.Node {
	h.t.Helper()
	eventually(h.t, "the node is registered", func() bool { return h.node() != nil })
	h.idle()
	return h.node()
}

// statusPatches counts the patches of the Node's status.
func (h *harness) statusPatches() int {
	n := 0
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "patch" && a.GetResource().Resource == "nodes" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

// ready returns the Node's Ready condition.
func ready(t *testing.T, n *corev1.Node) corev1.NodeCondition {
	t.Helper()
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	t.Fatalf("node %s has no Ready condition: %+v", n.Name, n.Status.Conditions)
	return corev1.NodeCondition{}
}

// eventually polls cond with a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fixtureHost writes a 4-CPU, 8 GiB machine with two huge page sizes below a
// temporary root.
func fixtureHost(t *testing.T) host {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"sys/devices/system/cpu/online": "0-3\n",
		"proc/meminfo":                  "MemTotal:        8388608 kB\nMemFree:         1000 kB\n",
		"sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages":    "4\n",
		"sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages": "0\n",
		"etc/machine-id":                 "0123456789abcdef0123456789abcdef\n",
		"sys/class/dmi/id/product_uuid":  "4c4c4544-0031-3510-8052-b7c04f4e3232\n",
		"proc/sys/kernel/random/boot_id": "9d1c1b4e-1111-2222-3333-444455556666\n",
		"proc/sys/kernel/osrelease":      "6.8.0-45-generic\n",
		"etc/os-release":                 "NAME=\"Ubuntu\"\nPRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nID=ubuntu\n",
	}
	for rel, body := range files {
		writeFile(t, root, rel, body)
	}
	return host{root: root, statfs: func(string) (int64, error) { return 100e9, nil }}
}

func writeFile(t *testing.T, root, rel, body string) {
	t.Helper()
	name := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
