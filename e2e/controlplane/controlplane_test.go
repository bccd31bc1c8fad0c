package controlplane

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const apiserverManifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"

// settle is how long kube-apiserver runs before the test stops it while
// bosun is killed.
const settle = 30 * time.Second

// kubeadmConfig is what a user gives kubeadm for a node run by bosun: the
// node's address and name, the CRI socket, and a kubelet configuration whose
// cgroup driver matches the runtime's (the test's containerd uses cgroupfs).
func kubeadmConfig() string {
	return fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: %s
  bindPort: 6443
nodeRegistration:
  name: %s
  criSocket: %s
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: %s
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
`, nodeIP, nodeName, endpoint, kubeVersion)
}

// kubeadm runs kubeadm init phase ARGS with the test's configuration (where
// the phase takes one) in the network namespace.
func kubeadm(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	full := append([]string{"init", "phase"}, args...)
	if args[0] != "wait-control-plane" { // it has no --config flag
		full = append(full, "--config", filepath.Join(work, "kubeadm.yaml"))
	}
	start := time.Now()
	out, err := netnsCommand(ctx, kubeBin+"/kubeadm", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubeadm %s: %v\n%s", strings.Join(full, " "), err, out)
	}
	t.Logf("kubeadm init phase %s: ok in %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return string(out)
}

// measured collects the numbers of the control-plane table in one run.
type measured struct{ rows [][2]string }

func (m *measured) add(what string, v any) { m.rows = append(m.rows, [2]string{what, fmt.Sprint(v)}) }

func (m *measured) print() {
	fmt.Printf("\ncontrol plane under bosun, %s, kubeadm %s:\n| measured in one run | bosun |\n|---|---|\n", criVersion, kubeVersion)
	for _, r := range m.rows {
		fmt.Printf("| %s | %s |\n", r[0], r[1])
	}
	fmt.Println()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// TestControlPlane bootstraps kubeadm's control plane under bosun, checks a
// client can write and read an object, then breaks it in the ways a node
// breaks and checks the API stays up (or comes back as fast as it can).
func TestControlPlane(t *testing.T) {
	var m measured
	defer m.print()
	if err := os.WriteFile(filepath.Join(work, "kubeadm.yaml"), []byte(kubeadmConfig()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, phase := range [][]string{{"certs", "all"}, {"kubeconfig", "all"}, {"etcd", "local"}, {"control-plane", "all"}} {
		kubeadm(t, phase...)
	}
	// kubelet-start writes the KubeletConfiguration bosun reads; it cannot
	// start a kubelet here and says so without failing.
	kubeadm(t, "kubelet-start")
	cfg, err := os.ReadFile("/var/lib/kubelet/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("/var/lib/kubelet/config.yaml (as kubeadm wrote it):\n%s", cfg)

	r := newRunner(t)
	defer func() {
		r.t = t // the subtests lent it to themselves
		if t.Failed() {
			t.Logf("bosun log (tail):\n%s", tail(r.log(), 100))
			if ps, err := r.cliErr("ps"); err == nil {
				t.Logf("bosun ps:\n%s", ps)
			}
		}
		r.kill(syscall.SIGTERM)
	}()
	api, err := newAPIClient("/etc/kubernetes/admin.conf")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r.start()
	eventually(t, 3*time.Minute, "kube-apiserver /readyz", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := api.do(ctx, "GET", "/readyz", nil)
		return err == nil
	})
	m.add("runner start → kube-apiserver `/readyz` ok", secs(time.Since(start)))

	for _, phase := range [][]string{{"wait-control-plane"}, {"upload-config", "all"}, {"bootstrap-token"}, {"addon", "all"}} {
		kubeadm(t, phase...)
	}
	m.add("`kubeadm init phase wait-control-plane`, `upload-config all`, `bootstrap-token`, `addon all`", "pass")

	ctx := context.Background()
	want := map[string]string{"written": time.Now().UTC().Format(time.RFC3339Nano)}
	if err := api.putConfigMap(ctx, "bosun-e2e", want); err != nil {
		t.Fatal(err)
	}
	if got, err := api.getConfigMap(ctx, "bosun-e2e"); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("configmap bosun-e2e read back %v, %v; want %v", got, err, want)
	}
	t.Logf("configmap bosun-e2e written and read back: %v", want)
	t.Logf("bosun ps:\n%s", r.cli("ps"))

	f := faults{t: t, r: r, api: api, m: &m, object: "bosun-e2e", want: want}
	t.Run("BosunKilled", f.bosunKilled)
	t.Run("ContainerdRestarted", f.containerdRestarted)
	t.Run("EtcdKilled", f.etcdKilled)
	t.Run("ApiserverUpgrade", f.apiserverUpgrade)
	t.Run("BosunKilledMidUpgrade", f.bosunKilledMidUpgrade)
}

// faults are the ways the test breaks the running control plane; each keeps
// a client reading /readyz and the object every 100 ms.
type faults struct {
	t      *testing.T
	r      *runner
	api    *apiClient
	m      *measured
	object string
	want   map[string]string
}

// bosunKilled: bosun kill -9 and restart; the control plane does not notice.
func (f *faults) bosunKilled(t *testing.T) {
	f.r.t = t
	before := containers(t)
	p := f.api.startProber(f.object, f.want)
	f.r.kill(syscall.SIGKILL)
	mark := len(f.r.log())
	f.r.start()
	time.Sleep(3 * time.Second) // the probes and events of the new bosun settle
	samples := p.finish()
	n, first := failures(samples)
	if n > 0 {
		t.Errorf("%d of %d requests failed after bosun kill -9; first: %v", n, len(samples), first)
	}
	kept := "all kept"
	if err := sameContainers(before, containers(t)); err != nil {
		t.Error(err)
		kept = "not kept"
	}
	calls := mutatingCalls(t, f.r.log()[mark:])
	if len(calls) > 0 {
		t.Errorf("the restarted bosun made mutating CRI calls: %v", calls)
	}
	f.m.add("runner `kill -9` + restart: failed requests, containers, mutating CRI calls",
		fmt.Sprintf("%d of %d, %s, %d", n, len(samples), kept, len(calls)))
}

// containerdRestarted: the runtime's daemon restarts (an upgrade of the
// package); containers keep running and the API never stops answering.
func (f *faults) containerdRestarted(t *testing.T) {
	f.r.t = t
	before := containers(t)
	p := f.api.startProber(f.object, f.want)
	mark := len(f.r.log())
	start := time.Now()
	out, err := containerdCommand(context.Background(), "restart").CombinedOutput()
	if err != nil {
		t.Fatalf("hack/containerd.sh restart: %v\n%s", err, out)
	}
	took := time.Since(start)
	time.Sleep(5 * time.Second)
	samples := p.finish()
	n, first := failures(samples)
	if n > 0 {
		t.Errorf("%d of %d requests failed across the containerd restart; first: %v", n, len(samples), first)
	}
	if err := sameContainers(before, containers(t)); err != nil {
		t.Error(err)
	}
	if calls := mutatingCalls(t, f.r.log()[mark:]); len(calls) > 0 {
		t.Errorf("bosun made mutating CRI calls across the containerd restart: %v", calls)
	}
	f.m.add("containerd restarted: failed requests (restart took)", fmt.Sprintf("%d of %d (%s)", n, len(samples), secs(took)))
}

// etcdKilled: etcd's process dies; bosun restarts it and the data reads back.
func (f *faults) etcdKilled(t *testing.T) {
	f.r.t = t
	etcd := running(t, "etcd")
	p := f.api.startProber(f.object, f.want)
	pid := taskPID(t, etcd.Id)
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var back time.Duration
	eventually(t, 2*time.Minute, "the configmap to read back after etcd was killed", func() bool {
		c := containers(t)["etcd"]
		if c == nil || c.Id == etcd.Id {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		got, err := f.api.getConfigMap(ctx, f.object)
		back = time.Since(killed)
		return err == nil && fmt.Sprint(got) == fmt.Sprint(f.want)
	})
	samples := p.finish()
	n, _ := failures(samples)
	t.Logf("etcd killed → configmap reads back in %v (%d of %d probe rounds failed)", back.Round(time.Millisecond), n, len(samples))
	f.m.add("etcd's process killed → a ConfigMap reads back", secs(back))
}

// taskPID is the host PID of a running container's process.
func taskPID(t *testing.T, id string) int {
	t.Helper()
	out, err := exec.Command("ctr", "--address", filepath.Join(containerdDir, "containerd.sock"), "-n", "k8s.io", "tasks", "ls").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == id {
			var pid int
			if _, err := fmt.Sscan(f[1], &pid); err == nil {
				return pid
			}
		}
	}
	t.Fatalf("no task for container %s", id)
	return 0
}

// running returns the running container name, failing the test without one.
func running(t *testing.T, name string) *runtimeapi.Container {
	t.Helper()
	c := containers(t)[name]
	if c == nil {
		t.Fatalf("%s does not run", name)
	}
	return c
}

// addFlag returns the kube-apiserver manifest with one more flag after the
// command's first line.
func addFlag(t *testing.T, flag string) []byte {
	t.Helper()
	const cmd = "    - kube-apiserver\n"
	manifest, err := os.ReadFile(apiserverManifest)
	if err != nil {
		t.Fatal(err)
	}
	s := string(manifest)
	if !strings.Contains(s, cmd) {
		t.Fatalf("%s has no line %q", apiserverManifest, cmd)
	}
	return []byte(strings.Replace(s, cmd, cmd+"    - "+flag+"\n", 1))
}

// writeInPlace writes a manifest the way an editor without rename does.
func writeInPlace(t *testing.T, b []byte) {
	t.Helper()
	if err := os.WriteFile(apiserverManifest, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// apiserverUpgrade: a half-written kube-apiserver.yaml (invalid YAML) never
// stops the running apiserver, and bosun ps says why; the finished edit (a
// flag added) replaces it with at most the old one's shutdown, the new one's
// start and 0.5 s of API downtime.
func (f *faults) apiserverUpgrade(t *testing.T) {
	f.r.t = t
	old := running(t, "kube-apiserver")
	upgraded := addFlag(t, "--profiling=false")

	p := f.api.startProber(f.object, f.want)
	writeInPlace(t, append(upgraded[:len(upgraded)/2:len(upgraded)/2], "\n\t- {broken\n"...))
	var ps string
	eventually(t, time.Minute, "bosun ps to report kube-apiserver.yaml", func() bool {
		ps = f.r.cli("ps")
		_, rejected, _ := strings.Cut(ps, "REJECTED MANIFESTS")
		return strings.Contains(ps, "(manifest rejected)") && strings.Contains(rejected, apiserverManifest)
	})
	time.Sleep(3 * time.Second)
	samples := p.finish()
	if n, first := failures(samples); n > 0 {
		t.Errorf("%d of %d requests failed while kube-apiserver.yaml was invalid; first: %v", n, len(samples), first)
	}
	if c := containers(t)["kube-apiserver"]; c == nil || c.Id != old.Id {
		t.Errorf("the running kube-apiserver was touched while its manifest was invalid")
	}
	t.Logf("bosun ps with kube-apiserver.yaml invalid:\n%s", ps)
	f.m.add("kube-apiserver.yaml overwritten with invalid YAML: failed requests", fmt.Sprintf("%d of %d", 0, len(samples)))

	p = f.api.startProber(f.object, f.want)
	mark := len(f.r.log())
	written := time.Now()
	writeInPlace(t, upgraded)
	var ready time.Duration
	var upgradedC *runtimeapi.Container
	eventually(t, 3*time.Minute, "the new kube-apiserver to be ready", func() bool {
		upgradedC = containers(t)["kube-apiserver"]
		if upgradedC == nil || upgradedC.Id == old.Id {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := f.api.do(ctx, "GET", "/readyz", nil)
		ready = time.Since(written)
		return err == nil
	})
	time.Sleep(500 * time.Millisecond)
	samples = p.finish()
	down, firstFail, firstOK := downtime(samples)
	// The first container bosun stops after the change is the old
	// kube-apiserver: StopContainer lasts from its SIGTERM to its exit.
	// Between the old container's exit and the new one's start, bosun calls
	// the runtime to stop the old sandbox and to make and start the new
	// container: those calls are the runtime's part of the old one's
	// shutdown and the new one's start, which a loaded machine slows. The
	// first of each after the stop is taken (kube-controller-manager and
	// kube-scheduler, restarted at that moment, make theirs alongside and
	// take as long).
	var stop criCall
	var createStart time.Duration
	counted := map[string]bool{}
	for _, c := range criCalls(t, f.r.log()[mark:]) {
		switch {
		case c.method == "StopContainer" && stop.method == "":
			stop = c
		case stop.method != "" && !counted[c.method] && (c.method == "StopPodSandbox" || c.method == "CreateContainer" || c.method == "StartContainer"):
			counted[c.method] = true
			createStart += c.duration
		}
	}
	if stop.method == "" {
		t.Fatalf("bosun's log shows no StopContainer after the manifest changed")
	}
	st, err := cri.ContainerStatus(context.Background(), upgradedC.Id)
	if err != nil {
		t.Fatal(err)
	}
	startedAt := time.Unix(0, st.StartedAt)
	shutdown := stop.duration
	newStart := firstOK.Sub(startedAt)
	gap := startedAt.Sub(stop.end)
	t.Logf("manifest written → ready %v; API down %v (first failure %s, back %s); old apiserver shutdown %v; bosun: old exited → new started %v (the runtime's StopPodSandbox, CreateContainer and StartContainer %v); new start → serving %v",
		ready.Round(time.Millisecond), down.Round(time.Millisecond), firstFail.Format("15:04:05.000"), firstOK.Format("15:04:05.000"),
		shutdown.Round(time.Millisecond), gap.Round(time.Millisecond), createStart.Round(time.Millisecond), newStart.Round(time.Millisecond))
	if budget := shutdown + createStart + newStart + 500*time.Millisecond; down > budget {
		logMutating(t, "bosun", f.r.log()[mark:])
		t.Errorf("API down %v, more than the old apiserver's shutdown %v + the runtime's calls between the two %v + the new one's start %v + 0.5 s", down, shutdown, createStart, newStart)
	}
	f.m.add("flag added to kube-apiserver.yaml → new apiserver ready / API down", secs(ready)+" / "+secs(down))
	f.m.add("… of which: old apiserver's shutdown / old exited → new started / new started → serving",
		secs(shutdown)+" / "+secs(gap)+" / "+secs(newStart))
}

// logMutating logs the mutating CRI calls in a piece of bosun's log, with
// when each returned and how long it took.
func logMutating(t *testing.T, who, log string) {
	t.Helper()
	for _, c := range criCalls(t, log) {
		if mutating[c.method] {
			t.Logf("%s: %s returned at %s after %v", who, c.method, c.end.Format("15:04:05.000"), c.duration)
		}
	}
}

// bosunKilledMidUpgrade: bosun dies after it told the old kube-apiserver to
// stop and before it started the new one; the next bosun finishes the job.
func (f *faults) bosunKilledMidUpgrade(t *testing.T) {
	f.r.t = t
	old := running(t, "kube-apiserver")
	// A kube-apiserver that gets SIGTERM in its first seconds takes longer
	// than the grace period to shut down (seen in this test): let the one the
	// last upgrade started settle, so that what is measured is bosun's part.
	st, err := cri.ContainerStatus(context.Background(), old.Id)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(0, st.StartedAt).Add(settle)))
	p := f.api.startProber(f.object, f.want)
	written := time.Now()
	writeInPlace(t, addFlag(t, "--event-ttl=2h"))
	// The old apiserver fails /readyz from the moment it has SIGTERM, and
	// takes seconds to shut down: bosun is inside StopContainer.
	eventually(t, time.Minute, "the old kube-apiserver to begin its shutdown", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		n := len(p.samples)
		return n > 0 && p.samples[n-1].at.After(written) && p.samples[n-1].readyErr != nil
	})
	f.r.kill(syscall.SIGKILL)
	killed := time.Now()
	if c := containers(t)["kube-apiserver"]; c != nil && c.Id != old.Id {
		t.Fatalf("a new kube-apiserver %.13s already runs: bosun was not killed between stop and start", c.Id)
	}
	mark := len(f.r.log())
	f.r.start()
	eventually(t, 3*time.Minute, "the next bosun to start the new kube-apiserver", func() bool {
		c := containers(t)["kube-apiserver"]
		if c == nil || c.Id == old.Id {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		got, err := f.api.getConfigMap(ctx, f.object)
		return err == nil && fmt.Sprint(got) == fmt.Sprint(f.want)
	})
	samples := p.finish()
	down, _, _ := downtime(samples)
	logMutating(t, "the next bosun", f.r.log()[mark:])
	t.Logf("bosun killed mid-upgrade: new apiserver serving %v after the kill, API down %v", time.Since(killed).Round(time.Millisecond), down.Round(time.Millisecond))
	f.m.add("runner `kill -9` between stopping the old apiserver and starting the new → the next one finishes: API down", secs(down))
}
