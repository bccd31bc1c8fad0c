package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/runtime"
)

// kubeletPod runs a hostNetwork pod through the CRI the way a kubelet runs
// a static pod made from a file: the kubelet's labels and annotations and
// no bosun label. Its one container serves "kubelet <name>" on
// 127.0.0.1:port. The test removes it at the end if it is still there.
func (e *env) kubeletPod(name string, port int) string {
	e.t.Helper()
	ctx := e.t.Context()
	podName, uid := e.podName(name), randomName("kubelet-uid")
	labels := map[string]string{runtime.LabelPodName: podName, runtime.LabelPodNamespace: "default", runtime.LabelPodUID: uid}
	node := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}
	sbCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: podName, Namespace: "default", Uid: uid},
		LogDirectory: e.t.TempDir(),
		Labels:       labels,
		Annotations: map[string]string{runtime.AnnotationConfigSource: "file", runtime.AnnotationConfigHash: uid,
			runtime.AnnotationConfigSeen: time.Now().Format(time.RFC3339Nano)},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: node}},
	}
	sb, err := cri.RunPodSandbox(ctx, sbCfg, "")
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = cri.StopPodSandbox(context.Background(), sb)
		_ = cri.RemovePodSandbox(context.Background(), sb)
	})
	cLabels := map[string]string{runtime.LabelContainerName: "web"}
	for k, v := range labels {
		cLabels[k] = v
	}
	serve := fmt.Sprintf(`trap "exit 0" TERM; mkdir -p /tmp/www && echo "kubelet %s" > /tmp/www/index.html && httpd -f -p 127.0.0.1:%d -h /tmp/www & wait`, name, port)
	id, err := cri.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "web"},
		Image:    &runtimeapi.ImageSpec{Image: busybox},
		Command:  []string{"sh", "-c", serve},
		LogPath:  "web/0.log",
		Labels:   cLabels,
		Annotations: map[string]string{runtime.AnnotationRestartCount: "0", runtime.AnnotationTermGracePeriod: "5",
			runtime.AnnotationTermMessagePath: "/dev/termination-log"},
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: node}},
	}, sbCfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cri.StartContainer(ctx, id); err != nil {
		e.t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		body, err := get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if body == "kubelet "+name+"\n" {
			return sb
		}
		if time.Now().After(deadline) {
			st, serr := cri.ContainerStatus(ctx, id)
			out, _ := os.ReadFile(filepath.Join(sbCfg.LogDirectory, "web", "0.log"))
			e.t.Fatalf("the kubelet's %s does not serve on 127.0.0.1:%d (last answer %q, %v); its container: %v %v; its log:\n%s",
				name, port, body, err, st, serr, out)
		}
	}
}

// outage watches a loopback URL every 10 ms and measures the time from the
// last answer of the old server to the first answer of the new one.
type outage struct {
	mu       sync.Mutex
	lastOld  time.Time
	firstNew time.Time
}

func watch(ctx context.Context, port int, oldBody, newBody string) *outage {
	o := &outage{}
	go func() {
		for ctx.Err() == nil {
			body, _ := get(fmt.Sprintf("http://127.0.0.1:%d/", port))
			o.mu.Lock()
			switch {
			case body == oldBody:
				o.lastOld = time.Now()
			case body == newBody && o.firstNew.IsZero():
				o.firstNew = time.Now()
			}
			o.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return o
}

// sawOld reports whether the old server has answered.
func (o *outage) sawOld() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.lastOld.IsZero()
}

func (o *outage) downtime() (time.Duration, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.firstNew.IsZero() || o.lastOld.IsZero() {
		return 0, false
	}
	return o.firstNew.Sub(o.lastOld), true
}

func TestKubeletStaticPodsAreTakenOver(t *testing.T) {
	e := newEnv(t, "--take-over-kubelet-pods")
	ports := map[string]int{"etcd": freePort(t), "kube-apiserver": freePort(t), "kept": freePort(t)}
	sandboxes := map[string]string{}
	for _, name := range []string{"kube-apiserver", "etcd", "kept"} {
		sandboxes[name] = e.kubeletPod(name, ports[name])
	}
	// bosun gets manifests for two of the three.
	e.write("etcd.yaml", webPod("etcd", ports["etcd"], "etcd"))
	e.write("kube-apiserver.yaml", webPod("kube-apiserver", ports["kube-apiserver"], "kube-apiserver"))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	outages := map[string]*outage{}
	for _, name := range []string{"etcd", "kube-apiserver"} {
		outages[name] = watch(ctx, ports[name], "kubelet "+name+"\n", "hello "+name+"\n")
	}
	// A downtime has two ends: each watcher sees the kubelet's server before
	// bosun may stop it (a loaded machine may run a watcher late).
	for name, o := range outages {
		eventually(t, 30*time.Second, "the watcher of "+name+" seeing the kubelet's server", o.sawOld)
	}
	e.startBosun()
	for _, name := range []string{"etcd", "kube-apiserver"} {
		eventually(t, time.Minute, "bosun's "+name+" serving", func() bool {
			_, ok := outages[name].downtime()
			return ok
		})
		d, _ := outages[name].downtime()
		t.Logf("downtime of %s: %v (the kubelet's pod stopped within its grace, bosun's started)", name, d.Round(time.Millisecond))
		sbs, err := cri.ListPodSandbox(t.Context(), map[string]string{runtime.LabelPodName: e.podName(name)})
		if err != nil {
			t.Fatal(err)
		}
		if len(sbs) != 1 || sbs[0].Labels[runtime.LabelManaged] != "true" || sbs[0].State != runtimeapi.PodSandboxState_SANDBOX_READY {
			t.Errorf("sandboxes of %s: %v, want only bosun's, ready (the kubelet's was %s)", name, sbs, sandboxes[name])
		}
	}
	log := e.log()
	etcdAt := strings.Index(log, `msg="kubelet's pod taken over" pod=default/`+e.podName("etcd"))
	apiAt := strings.Index(log, `msg="kubelet's pod taken over" pod=default/`+e.podName("kube-apiserver"))
	apiCreated := strings.Index(log, `msg="sandbox created" pod=default/`+e.podName("kube-apiserver"))
	if etcdAt < 0 || apiAt < 0 || apiAt < etcdAt || apiCreated < apiAt {
		t.Errorf("want etcd taken over first, then kube-apiserver, each just before bosun's own (log offsets %d %d %d)", etcdAt, apiAt, apiCreated)
	}
	// The kubelet's pod without a manifest is untouched.
	sbs, err := cri.ListPodSandbox(t.Context(), map[string]string{runtime.LabelPodName: e.podName("kept")})
	if err != nil || len(sbs) != 1 || sbs[0].Id != sandboxes["kept"] || sbs[0].State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Fatalf("the kubelet's pod without a manifest was touched: %v %v", sbs, err)
	}
	if body, err := getAnswer(fmt.Sprintf("http://127.0.0.1:%d/", ports["kept"])); body != "kubelet kept\n" {
		t.Errorf("the kubelet's pod without a manifest serves %q (%v)", body, err)
	}
}
