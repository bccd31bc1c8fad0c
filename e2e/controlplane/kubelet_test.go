package controlplane

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The kubelet as the node agent, for the side-by-side figures of TestUpgrade
// (BOSUN_CP_AGENT=bosun,kubelet; make controlplane-vs-kubelet). It is not
// needed in CI: the default agent is bosun alone.
//
// The kubelet runs the way kubeadm's systemd drop-in runs it (its
// --bootstrap-kubeconfig, --kubeconfig and --config, and the flags kubeadm
// wrote to kubeadm-flags.env), in the test's network namespace, with its
// root directory kubeadm's /var/lib/kubelet. What differs from a node where
// systemd runs it, each to keep the machine unchanged:
//   - it runs in a mount namespace of its own, whose mounts propagate to the
//     host (its volume mounts must be seen by containerd), but where the
//     kernel settings it would change on the host (kubeletSysctls) read as
//     the values it wants, from files bound over them in a private /proc;
//   - the KubeletConfiguration kubeadm writes says where its pod logs and
//     volume plugins go (the test's directory), that it runs on cgroup v1
//     and without checking swap, and that it never garbage-collects images;
//   - the test's containerd gets a bridge CNI configuration (in the test's
//     network namespace) while the kubelet runs: the kubelet's Node is not
//     Ready while the runtime's network is not, and kubeadm upgrade apply's
//     ControlPlaneNodesReady check wants it Ready;
//   - the Node is cordoned as soon as it is registered, as bosun registers
//     its Node unschedulable: nothing but the DaemonSet kube-proxy (whose
//     image is a placeholder) is scheduled to it, and kubeadm upgrade
//     apply's CreateJob check is skipped for both agents alike.

// agents are the node agents TestUpgrade runs under, in order.
var agents = strings.Split(envOr("BOSUN_CP_AGENT", "bosun"), ",")

// agent is the node agent of the test that runs: bosun or kubelet.
var agent = "bosun"

var kubeletBin = envOr("KUBELET_BIN", kubeBin+"/kubelet")

// kubeletSysctls are the values the kubelet wants (setupKernelTunables).
var kubeletSysctls = map[string]string{
	"vm.overcommit_memory":      "1",
	"vm.panic_on_oom":           "0",
	"kernel.panic":              "10",
	"kernel.panic_on_oops":      "1",
	"kernel.keys.root_maxkeys":  "1000000",
	"kernel.keys.root_maxbytes": "25000000",
}

// kubeletContainersDir is where the kubelet links container logs whatever
// its flags say.
const kubeletContainersDir = "/var/log/containers"

// cniConfig is the bridge network of the test's containerd while the
// kubelet runs; host-local keeps its state in the test's directory.
func cniConfig() string {
	return fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "bosun-e2e", "plugins": [{"type": "bridge", "bridge": "cni0",
  "isGateway": true, "ipMasq": false,
  "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": "10.244.0.0/24"}]]}}]}
`, filepath.Join(work, "cni-ipam"))
}

func cniConfigFile() string { return filepath.Join(containerdDir, "cni", "10-bosun-e2e.conflist") }

// initConfigExtra is what the InitConfiguration given to kubeadm adds for
// the kubelet: kubeadm init's API calls (the first, the admin user's
// ClusterRoleBinding, waits for kube-apiserver to start) time out after 4
// minutes instead of 1. The kubelet on this machine starts the static pods
// about 10 s apart while the API server is not there (it waits for its
// Node), and its kube-apiserver answers 50 to 60 s after kubeadm's
// kubelet-start phase, so close to the minute that kubeadm init failed
// once in three runs.
func initConfigExtra() string {
	if agent != "kubelet" {
		return ""
	}
	return "timeouts:\n  kubernetesAPICall: 4m0s\n"
}

// kubeletConfigExtra is what the KubeletConfiguration given to kubeadm adds
// for the kubelet (see above).
func kubeletConfigExtra() string {
	if agent != "kubelet" {
		return ""
	}
	return fmt.Sprintf(`failSwapOn: false
failCgroupV1: false
podLogsDir: %s
volumePluginDir: %s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`, filepath.Join(work, "kubelet-pods"), filepath.Join(work, "kubelet-volume-plugins"))
}

// kubeadmFlags are the flags kubeadm wrote for the kubelet in
// /var/lib/kubelet/kubeadm-flags.env (KUBELET_KUBEADM_ARGS).
func kubeadmFlags() ([]string, error) {
	const file = "/var/lib/kubelet/kubeadm-flags.env"
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "KUBELET_KUBEADM_ARGS="); ok {
			return strings.Fields(strings.Trim(v, `"`)), nil
		}
	}
	return nil, fmt.Errorf("%s: no KUBELET_KUBEADM_ARGS:\n%s", file, b)
}

// startKubelet starts the kubelet as kubeadm's drop-in does and waits for
// its /healthz.
func (r *runner) startKubelet() {
	r.t.Helper()
	if r.cmd != nil {
		r.t.Fatal("kubelet already running")
	}
	sys := filepath.Join(r.dir, "sysctl")
	for _, d := range []string{sys, filepath.Join(work, "kubelet-pods"), filepath.Join(work, "kubelet-volume-plugins")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			r.t.Fatal(err)
		}
	}
	for name, v := range kubeletSysctls {
		if err := os.WriteFile(filepath.Join(sys, name), []byte(v+"\n"), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	if _, err := os.Stat(kubeletContainersDir); os.IsNotExist(err) {
		if err := os.MkdirAll(kubeletContainersDir, 0o755); err != nil {
			r.t.Fatal(err)
		}
		r.madeContainersDir = true
	}
	if err := os.WriteFile(cniConfigFile(), []byte(cniConfig()), 0o644); err != nil {
		r.t.Fatal(err)
	}
	flags, err := kubeadmFlags()
	if err != nil {
		r.t.Fatal(err)
	}
	log, err := os.OpenFile(r.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	defer log.Close()
	fmt.Fprintf(log, "=== kubelet start %s %v\n", time.Now().Format(time.RFC3339Nano), flags)
	// /proc is made private in the kubelet's mount namespace before the
	// sysctl files are bound over it; every other mount stays shared with
	// the host.
	script := `set -e
mount --make-rprivate /proc
for f in "$SYSCTLS"/*; do n=$(basename "$f" | tr . /); mount --bind "$f" "/proc/sys/$n"; done
exec "$@"`
	args := append([]string{"--mount", "--propagation", "unchanged", "sh", "-c", script, "sh", kubeletBin,
		"--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
		"--kubeconfig=/etc/kubernetes/kubelet.conf",
		"--config=" + kubeletConfigFile,
		"--root-dir=/var/lib/kubelet",
		"--v=1"}, flags...)
	r.cmd = netnsCommand(context.Background(), "unshare", args...)
	r.cmd.Env = append(os.Environ(), "SYSCTLS="+sys)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.exited = make(chan struct{})
	go func(cmd interface{ Wait() error }, exited chan struct{}) { _ = cmd.Wait(); close(exited) }(r.cmd, r.exited)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: dialInNetns}}
	eventually(r.t, 2*time.Minute, "the kubelet's /healthz", func() bool {
		select {
		case <-r.exited:
			r.t.Fatalf("the kubelet exited:\n%s", tail(r.log(), 40))
		default:
		}
		resp, err := client.Get("http://127.0.0.1:10248/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// cordonWhenRegistered sets the Node unschedulable as soon as it exists
// (bosun registers it so), until ctx ends.
func cordonWhenRegistered(ctx context.Context, t *testing.T) {
	for ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if _, err := os.Stat("/etc/kubernetes/admin.conf"); err != nil {
			continue
		}
		kc, err := newClientset("/etc/kubernetes/admin.conf")
		if err != nil {
			continue
		}
		_, err = kc.CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{})
		if err == nil {
			t.Logf("node %s cordoned", nodeName)
			return
		}
	}
}

// kubeletPods maps the name of each pod whose sandbox is ready to what the
// kubelet runs in it, read through the CRI, in the form bosun's ps gives:
// the UID is the sandbox's io.kubernetes.pod.uid (the static pod's, the
// mirror pod's config.hash), a running container is taken as ready (the
// mirror pod says when it is), its image tags are those of its image.
func kubeletPods(ctx context.Context) (map[string]bosunPod, error) {
	sandboxes, err := cri.ListPodSandbox(ctx, nil)
	if err != nil {
		return nil, err
	}
	sort.Slice(sandboxes, func(i, j int) bool { return sandboxes[i].CreatedAt < sandboxes[j].CreatedAt })
	pods := map[string]bosunPod{}
	byID := map[string]string{}
	for _, s := range sandboxes {
		if s.State != runtimeapi.PodSandboxState_SANDBOX_READY {
			continue
		}
		name := s.Labels["io.kubernetes.pod.name"]
		pods[name] = bosunPod{Namespace: s.Labels["io.kubernetes.pod.namespace"], Name: name, UID: s.Labels["io.kubernetes.pod.uid"]}
		byID[s.Id] = name
	}
	cs, err := cri.ListContainers(ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		name, ok := byID[c.PodSandboxId]
		if !ok || c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		p := pods[name]
		restarts, _ := strconv.ParseUint(c.Annotations["io.kubernetes.container.restartCount"], 10, 32)
		var tags []string
		if img, err := cri.ImageStatus(ctx, c.ImageRef); err == nil && img != nil {
			tags = img.RepoTags
		}
		p.Containers = append(p.Containers, podContainer{Name: c.Metadata.Name, ID: c.Id, Image: c.Image.GetImage(), Tags: tags,
			State: "running", RestartCount: uint32(restarts), Ready: true})
		p.Phase = "Running"
		pods[name] = p
	}
	return pods, nil
}

// kubeletContainers maps the name of each running control-plane container
// the kubelet runs to it.
func kubeletContainers(ctx context.Context) (map[string]*runtimeapi.Container, error) {
	cs, err := cri.ListContainers(ctx, map[string]string{"io.kubernetes.pod.namespace": "kube-system"})
	if err != nil {
		return nil, err
	}
	out := map[string]*runtimeapi.Container{}
	for _, c := range cs {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING && slices.Contains(components, c.Metadata.Name) {
			out[c.Metadata.Name] = c
		}
	}
	return out, nil
}

// resetKubelet removes what the kubelet leaves on the node once it is
// stopped, but for kubeadm's fixed paths: every sandbox of the test's
// containerd (through the CRI), the mounts below /var/lib/kubelet, the CNI
// configuration, its container log links and its QoS cgroups.
func resetKubelet(t *testing.T, madeContainersDir bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sandboxes, err := cri.ListPodSandbox(ctx, nil)
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
	for _, m := range mountsBelow("/var/lib/kubelet") {
		if err := syscall.Unmount(m, 0); err != nil {
			if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
				t.Errorf("reset: umount %s: %v", m, err)
			}
		}
	}
	if err := os.Remove(cniConfigFile()); err != nil && !os.IsNotExist(err) {
		t.Errorf("reset: %v", err)
	}
	links, _ := filepath.Glob(filepath.Join(kubeletContainersDir, "*"))
	for _, l := range links {
		if dst, err := os.Readlink(l); err == nil && strings.HasPrefix(dst, filepath.Join(work, "kubelet-pods")) {
			_ = os.Remove(l)
		}
	}
	if madeContainersDir {
		if err := os.Remove(kubeletContainersDir); err != nil {
			t.Errorf("reset: %v", err)
		}
	}
	removeKubepods()
	if left := mountsBelow("/var/lib/kubelet"); len(left) > 0 {
		t.Errorf("reset: still mounted: %v", left)
	}
}

// mountsBelow lists the mount points at or below dir, deepest first.
func mountsBelow(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 {
			continue
		}
		p := unescapeMount(fs[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeKubepods removes the kubelet's QoS cgroups (empty once its pods are
// gone), deepest first.
func removeKubepods() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	if d, err := os.Stat("/sys/fs/cgroup/kubepods"); err == nil && d.IsDir() {
		dirs = append(dirs, "/sys/fs/cgroup/kubepods")
	}
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

// kubeletTimeline are the lines of the kubelet's log (--v=1) that say when
// it started and registered its Node, and when a pod became ready, each cut
// to 300 bytes.
func kubeletTimeline(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		for _, k := range []string{"=== kubelet start", "Successfully registered node", `status="ready"`} {
			if strings.Contains(l, k) {
				if len(l) > 300 {
					l = l[:300]
				}
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
