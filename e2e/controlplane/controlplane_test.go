package controlplane

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const apiserverManifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"

// settle is how long kube-apiserver runs before the test stops it while
// bosun is killed.
const settle = 30 * time.Second

// measured collects the numbers of the control-plane table in one run.
type measured struct {
	title string // what was measured; kubeadm's release by default
	rows  [][2]string
}

func (m *measured) add(what string, v any) { m.rows = append(m.rows, [2]string{what, fmt.Sprint(v)}) }

func (m *measured) print() {
	title := m.title
	if title == "" {
		title = "kubeadm " + kubeVersion
	}
	fmt.Printf("\ncontrol plane under %s, %s, %s:\n| measured in one run | %s |\n|---|---|\n", agent, criVersion, title, agent)
	for _, r := range m.rows {
		fmt.Printf("| %s | %s |\n", r[0], r[1])
	}
	fmt.Println()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// TestControlPlane bootstraps kubeadm's control plane under bosun with
// `kubeadm init`, checks the cluster sees bosun's node and pods (the Node,
// the mirror pods and their status), checks a client can write and read an
// object, then breaks it in the ways a node breaks and checks the API stays
// up (or comes back as fast as it can) and the mirror pods follow.
func TestControlPlane(t *testing.T) {
	if !slices.Contains(agents, "bosun") {
		t.Skip("BOSUN_CP_AGENT does not list bosun: the faults are bosun's")
	}
	var m measured
	defer m.print()
	cp := kubeadmInit(t, &m, "bosun", kubeBin, kubeVersion)
	defer resetNode(t, cp.r)
	defer cp.stop(t)
	cfg, err := os.ReadFile(kubeletConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s (as kubeadm wrote it):\n%s", kubeletConfigFile, cfg)

	ctx := context.Background()
	want := map[string]string{"written": time.Now().UTC().Format(time.RFC3339Nano)}
	if err := cp.api.putConfigMap(ctx, "bosun-e2e", want); err != nil {
		t.Fatal(err)
	}
	if got, err := cp.api.getConfigMap(ctx, "bosun-e2e"); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("configmap bosun-e2e read back %v, %v; want %v", got, err, want)
	}
	t.Logf("configmap bosun-e2e written and read back: %v", want)
	t.Logf("bosun ps:\n%s", cp.r.cli("ps"))

	f := faults{t: t, r: cp.r, api: cp.api, kc: cp.kc, m: &m, object: "bosun-e2e", want: want}
	t.Run("MirrorPodDeleted", f.mirrorPodDeleted)
	t.Run("BosunKilled", f.bosunKilled)
	t.Run("ContainerdRestarted", f.containerdRestarted)
	t.Run("EtcdKilled", f.etcdKilled)
	t.Run("ApiserverUpgrade", f.apiserverUpgrade)
	t.Run("BosunKilledMidUpgrade", f.bosunKilledMidUpgrade)
	t.Run("ApiserverStopped", f.apiserverStopped)
	t.Run("TLSBootstrap", f.tlsBootstrap)
}

// faults are the ways the test breaks the running control plane; each keeps
// a client reading /readyz and the object every 100 ms.
type faults struct {
	t      *testing.T
	r      *runner
	api    *apiClient
	kc     kubernetes.Interface
	m      *measured
	object string
	want   map[string]string
	// mirrorBefore is the kube-apiserver mirror pod before its manifest is
	// edited.
	mirrorBefore *corev1.Pod
}

// bosunKilled: bosun kill -9 and restart; the control plane does not notice.
//
// The cluster does not notice either: the restarted bosun finds the mirror
// pods and the Node as they are and writes nothing (the same UIDs and
// resourceVersions, the same Node labels).
func (f *faults) bosunKilled(t *testing.T) {
	f.r.t = t
	waitMirrors(t, f.kc, f.r, time.Minute, "before bosun is killed")
	versions, pods := objectVersions(t, f.kc)
	labels := nodeLabels(t, f.kc)
	before := containers(t)
	p := f.api.startProber(f.object, f.want)
	f.r.kill(syscall.SIGKILL)
	mark := len(f.r.log())
	f.r.start()
	// The probes and events of the new bosun settle, and its API side, which
	// starts beside the first sync, lists what the API has and compares.
	time.Sleep(10 * time.Second)
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
	mirrors := "unchanged"
	if after, afterPods := objectVersions(t, f.kc); fmt.Sprint(after) != fmt.Sprint(versions) {
		t.Errorf("the restarted bosun changed mirror pods:\nbefore %v\nafter  %v", versions, after)
		for c, b := range pods {
			if a := afterPods[c]; a.ResourceVersion != b.ResourceVersion {
				t.Logf("mirror pod %s, what changed:\n%s", a.Name, changes(b, a))
			}
		}
		mirrors = "changed"
	}
	if after := nodeLabels(t, f.kc); fmt.Sprint(after) != fmt.Sprint(labels) {
		t.Errorf("the restarted bosun changed the Node's labels:\nbefore %v\nafter  %v", labels, after)
		mirrors += ", Node labels changed"
	}
	waitMirrors(t, f.kc, f.r, time.Minute, "after bosun's restart")
	f.m.add("runner `kill -9` + restart: failed requests, containers, mutating CRI calls, mirror pods (UIDs, resourceVersions)",
		fmt.Sprintf("%d of %d, %s, %d, %s", n, len(samples), kept, len(calls), mirrors))
}

// nodeLabels are the Node's labels.
func nodeLabels(t *testing.T, kc kubernetes.Interface) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := kc.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n.Labels
}

// mirrorPodDeleted: a user deletes a mirror pod (kubectl delete pod, with
// its default grace period); it comes back as a new object (a new UID) for
// the same static pod (the same config.hash), and the pod's container is
// not touched (the kubelet's behaviour: a mirror pod is a view).
func (f *faults) mirrorPodDeleted(t *testing.T) {
	f.r.t = t
	const c = "kube-scheduler"
	waitMirrors(t, f.kc, f.r, time.Minute, "before the mirror pod is deleted")
	before := containers(t)
	ctx := context.Background()
	old, err := f.kc.CoreV1().Pods("kube-system").Get(ctx, mirrorName(c), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	if err := f.kc.CoreV1().Pods("kube-system").Delete(ctx, mirrorName(c), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var back time.Duration
	eventually(t, 2*time.Minute, "the deleted mirror pod "+mirrorName(c)+" to come back", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p, err := f.kc.CoreV1().Pods("kube-system").Get(ctx, mirrorName(c), metav1.GetOptions{})
		back = time.Since(deleted)
		return err == nil && p.UID != old.UID && p.DeletionTimestamp == nil
	})
	p, err := f.kc.CoreV1().Pods("kube-system").Get(ctx, mirrorName(c), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h, oh := p.Annotations["kubernetes.io/config.hash"], old.Annotations["kubernetes.io/config.hash"]; h != oh {
		t.Errorf("mirror pod %s came back with config.hash %q, was %q", p.Name, h, oh)
	}
	status := waitMirrors(t, f.kc, f.r, time.Minute, "after the mirror pod came back")
	if err := sameContainers(before, containers(t)); err != nil {
		t.Errorf("deleting a mirror pod touched a container: %v", err)
	}
	t.Logf("mirror pod %s deleted (uid %s) → back as uid %s in %v", p.Name, old.UID, p.UID, back.Round(time.Millisecond))
	f.m.add("mirror pod deleted (`kubectl delete pod`) → back (new UID, same config.hash) / its status current",
		secs(back)+" / "+secs(back+status))
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

// etcdKilled: etcd's process dies; bosun restarts it and the data reads back;
// kubectl describe shows bosun's events on etcd's mirror pod.
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
	f.describeShowsEvents(t, "etcd")
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
	f.mirrorBefore, _ = f.kc.CoreV1().Pods("kube-system").Get(context.Background(), mirrorName("kube-apiserver"), metav1.GetOptions{})
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

	// The cluster sees the edit: the kube-apiserver mirror pod has the new
	// version's config.hash, its status names the new container, and
	// kubectl describe shows what bosun did.
	ctx := context.Background()
	oldMirror := f.mirrorBefore
	took := waitMirrors(t, f.kc, f.r, 2*time.Minute, "after the kube-apiserver manifest edit")
	mirror, err := f.kc.CoreV1().Pods("kube-system").Get(ctx, mirrorName("kube-apiserver"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if oldMirror != nil && mirror.Annotations["kubernetes.io/config.hash"] == oldMirror.Annotations["kubernetes.io/config.hash"] {
		t.Errorf("mirror pod %s: config.hash %s did not change with the manifest", mirror.Name, mirror.Annotations["kubernetes.io/config.hash"])
	}
	if want := "containerd://" + upgradedC.Id; len(mirror.Status.ContainerStatuses) != 1 || mirror.Status.ContainerStatuses[0].ContainerID != want {
		t.Errorf("mirror pod %s: container statuses %+v, want the new container %s", mirror.Name, mirror.Status.ContainerStatuses, want)
	}
	f.m.add("… → kube-apiserver mirror pod's config.hash and status follow the new container", secs(ready+took))
	f.describeShowsEvents(t, "kube-apiserver")
}

// describeShowsEvents waits until kubectl describe pod would show events on
// the component's mirror pod (podEvents) and logs them.
func (f *faults) describeShowsEvents(t *testing.T, c string) {
	t.Helper()
	var evs []corev1.Event
	var uid string
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p, err := f.kc.CoreV1().Pods("kube-system").Get(ctx, mirrorName(c), metav1.GetOptions{})
		if err == nil {
			uid = p.Annotations[corev1.MirrorPodAnnotationKey]
			evs, err = podEvents(ctx, f.kc, p)
		}
		cancel()
		if err == nil && len(evs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			// What the API has about the pod, whatever the UID it names.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			all, lerr := f.kc.CoreV1().Events("kube-system").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + mirrorName(c)})
			var b strings.Builder
			if lerr == nil {
				for _, e := range all.Items {
					fmt.Fprintf(&b, "  uid %s: %s", e.InvolvedObject.UID, eventLines([]corev1.Event{e}))
				}
			}
			t.Fatalf("kubectl describe pod -n kube-system %s (config.mirror %s) shows no events after 1m (%v); the events on that name: %v\n%s",
				mirrorName(c), uid, err, lerr, b.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("kubectl describe pod -n kube-system %s: events:\n%s", mirrorName(c), eventLines(evs))
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

// apiserverStopped: kube-apiserver stops answering for a minute without
// bosun seeing a pod fail: its process is stopped with SIGSTOP and continued
// with SIGCONT (an API server hung, or unreachable). Its liveness probe
// (kubeadm's: 8 failures, one per 10 s at best, 15 s timeout each) does not
// fail long enough for bosun to restart it, and nothing else bosun runs
// depends on it to keep running, so etcd and kube-apiserver keep their
// containers; kube-controller-manager and kube-scheduler exit by design when
// they cannot renew their leader lease (as under the kubelet) and bosun
// restarts them. The API side of bosun cannot write while it lasts and
// catches up after: the Node is Ready again and the mirror pods' status is
// current (Ready, the running containers, their restart counts).
func (f *faults) apiserverStopped(t *testing.T) {
	f.r.t = t
	const outage = time.Minute
	waitMirrors(t, f.kc, f.r, time.Minute, "before kube-apiserver is stopped")
	before := containers(t)
	api := running(t, "kube-apiserver")
	pid := taskPID(t, api.Id)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	continued := false
	defer func() {
		if !continued {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	time.Sleep(outage)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	continued = true
	resumed := time.Now()
	eventually(t, 2*time.Minute, "kube-apiserver /readyz after SIGCONT", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := f.api.do(ctx, "GET", "/readyz", nil)
		return err == nil
	})
	waitNode(t, f.kc, 2*time.Minute)
	waitMirrors(t, f.kc, f.r, 3*time.Minute, "after kube-apiserver was continued")
	after := containers(t)
	for _, c := range []string{"etcd", "kube-apiserver"} {
		if b, a := before[c], after[c]; a == nil || a.Id != b.Id {
			t.Errorf("%s was restarted while kube-apiserver was stopped for %v", c, outage)
		}
	}
	var restarted []string
	for _, c := range []string{"kube-controller-manager", "kube-scheduler"} {
		if b, a := before[c], after[c]; a == nil || a.Id != b.Id {
			restarted = append(restarted, c)
		}
	}
	t.Logf("kube-apiserver stopped %v (from %s); after SIGCONT the Node and the mirror pods are current in %v; restarted (lost their leader lease): %v",
		outage, stopped.Format("15:04:05"), time.Since(resumed).Round(time.Millisecond), restarted)
	f.m.add("kube-apiserver stopped (SIGSTOP) for 1 min → etcd, kube-apiserver kept; after SIGCONT, Node Ready and mirror pods current in",
		secs(time.Since(resumed)))
}
