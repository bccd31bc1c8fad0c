package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

type psPod struct {
	Name       string `json:"name"`
	Reason     string `json:"reason"`
	Phase      string `json:"phase"`
	SyncError  string `json:"sync_error"`
	Containers []struct {
		Name         string        `json:"name"`
		State        string        `json:"state"`
		Reason       string        `json:"reason"`
		Message      string        `json:"message"`
		Ready        bool          `json:"ready"`
		RestartCount int           `json:"restart_count"`
		Probes       []probeResult `json:"probes"`
	} `json:"containers"`
}

// probeResult is the last result of one probe in `bosun ps -o json`.
type probeResult struct {
	Kind    string `json:"kind"`
	Success bool   `json:"success"`
}

// psPods lists the pods through `bosun ps -o json`, by runtime name.
func (e *env) psPods() map[string]psPod {
	e.t.Helper()
	out, err := e.cliErr("ps", "-o", "json")
	if err != nil {
		return nil
	}
	var resp struct {
		Pods []psPod `json:"pods"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		e.t.Fatalf("ps -o json: %v\n%s", err, out)
	}
	pods := map[string]psPod{}
	for _, p := range resp.Pods {
		pods[p.Name] = p
	}
	return pods
}

// logOf returns the current log of a container, as `bosun logs` shows it.
func (e *env) logOf(pod, container string) string {
	out, _ := e.cliErr("logs", pod, "-c", container)
	return out
}

func TestControlPlaneExampleRunsWithAllProbesPassing(t *testing.T) {
	e := newEnv(t)
	state := t.TempDir()
	files, err := filepath.Glob("../examples/control-plane/*.yaml")
	if err != nil || len(files) != 4 {
		t.Fatalf("control-plane examples: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		e.write(filepath.Base(f), strings.ReplaceAll(string(b), "/var/lib/bosun-example", state))
	}
	if out, err := exec.Command(bosunBin, "validate", "--node-name", e.node, e.dir).CombinedOutput(); err != nil {
		t.Fatalf("bosun validate: %v\n%s", err, out)
	}
	e.startBosun()
	names := []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
	// One probe that times out on a loaded machine fails once: wait for a
	// moment when every probe's last result passed.
	var pods map[string]psPod
	eventually(t, 3*time.Minute, "all four control-plane pods ready, their startup and liveness probes run and passing", func() bool {
		pods = e.psPods()
		for _, n := range names {
			p, ok := pods[e.podName(n)]
			if !ok || len(p.Containers) != 1 || !p.Containers[0].Ready {
				return false
			}
			kinds := map[string]bool{}
			for _, pr := range p.Containers[0].Probes {
				kinds[pr.Kind] = true
				if !pr.Success {
					return false
				}
			}
			if !kinds["startup"] || !kinds["liveness"] {
				return false
			}
		}
		return true
	})
	for _, n := range names {
		if c := pods[e.podName(n)].Containers[0]; c.RestartCount != 0 {
			t.Errorf("%s restarted %d times", n, c.RestartCount)
		}
	}
	// hostPath volumes were created with the kubelet's modes.
	for path, dir := range map[string]bool{filepath.Join(state, "etcd"): true, filepath.Join(state, "pki"): true, filepath.Join(state, "scheduler.conf"): false} {
		fi, err := os.Stat(path)
		if err != nil || fi.IsDir() != dir {
			t.Errorf("%s: %v, dir=%v", path, err, dir)
			continue
		}
		want := os.FileMode(0o644)
		if dir {
			want = 0o755
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "etcd", "www", "health")); err != nil {
		t.Errorf("etcd did not write into its hostPath data directory: %v", err)
	}
}

func TestContainerSeesItsSpec(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	hostDir := filepath.Join(t.TempDir(), "host")
	if err := os.MkdirAll(filepath.Join(hostDir, "nested", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostDir, "nested", "dir", "hello"), []byte("from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.write("facts.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: facts
  labels: {app: facts}
spec:
  hostname: factbox
  hostAliases:
  - {ip: 10.1.2.3, hostnames: [alias.example]}
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.53]
    searches: [example.internal]
    options: [{name: ndots, value: "2"}]
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsUser: 1000
    runAsGroup: 1000
    supplementalGroups: [2000]
    fsGroup: 3000
  volumes:
  - name: scratch
    emptyDir: {medium: Memory, sizeLimit: 16Mi}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: cpu, resourceFieldRef: {containerName: main, resource: limits.cpu, divisor: 1m}}
  - name: host
    hostPath: {path: %s, type: DirectoryOrCreate}
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c"]
    args:
    - |
      id
      grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status
      echo "env POD=$POD_NAME NS=$POD_NS NODE=$NODE MEM=$MEM_LIMIT EXPANDED=$(POD_NAME)"
      grep -v '^#' /etc/hosts | grep -E 'factbox|alias'
      cat /etc/resolv.conf
      echo "hostname $(hostname)"
      grep ' /scratch ' /proc/mounts | cut -d' ' -f1,3
      echo "labels $(cat /info/labels) cpu $(cat /info/cpu)"
      touch /rootfile 2>/dev/null || echo "rootfs read-only"
      touch /scratch/x && echo "scratch writable"
      stat -c 'scratch group %%g' /scratch
      echo "subpath $(cat /sub/hello)"
      echo "memory limit $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
      echo done
      sleep 3600
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: MEM_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    resources:
      limits: {memory: 64Mi, cpu: 500m}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: info, mountPath: /info, readOnly: true}
    - {name: host, mountPath: /sub, subPath: nested/dir}
`, hostDir, busybox))
	e.waitRunning("facts", "main")
	var log string
	eventually(t, time.Minute, "the facts printed", func() bool {
		log = e.logOf("facts", "main")
		return strings.Contains(log, "done\n")
	})
	for _, want := range []string{
		"uid=1000 gid=1000 groups=1000,2000,3000",
		"CapEff:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2",
		fmt.Sprintf("env POD=%s NS=default NODE=%s MEM=64 EXPANDED=%s", e.podName("facts"), e.node, e.podName("facts")),
		"\tfactbox\n", "10.1.2.3\talias.example\n",
		"nameserver 192.0.2.53\n", "search example.internal\n", "options ndots:2\n",
		"hostname factbox\n", "tmpfs tmpfs\n",
		`labels app="facts" cpu 500`, "rootfs read-only\n", "scratch writable\n", "scratch group 3000\n",
		"subpath from the host\n", "memory limit 67108864\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the container does not see %q; its log:\n%s", want, log)
		}
	}

}

func TestInitContainersRunInOrderAndSidecarsStopLast(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("init.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: init
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 3
  volumes:
  - {name: work, emptyDir: {}}
  initContainers:
  - name: first
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "sleep 0.5; echo first >> /work/order"]
    volumeMounts: [{name: work, mountPath: /work}]
  - name: side
    image: %[1]s
    imagePullPolicy: IfNotPresent
    restartPolicy: Always
    command: ["sh", "-c", "echo side >> /work/order; trap 'sleep 1; echo side-stopped; exit 0' TERM; while true; do sleep 0.1; done"]
    volumeMounts: [{name: work, mountPath: /work}]
  - name: second
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "grep -q first /work/order && echo second >> /work/order"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: main
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "cat /work/order; echo main >> /work/order; trap 'echo main-stopped; exit 0' TERM; while true; do sleep 0.1; done"]
    volumeMounts: [{name: work, mountPath: /work}]
`, busybox))
	e.waitRunning("init", "main")
	var log string
	// The lines of one write reach the log one by one: wait for all three.
	eventually(t, 30*time.Second, "main's log of the three init lines", func() bool {
		log = e.logOf("init", "main")
		return strings.Count(log, "\n") >= 3
	})
	if log != "first\nside\nsecond\n" {
		t.Errorf("main saw %q, want init containers in order with the sidecar started before the second", log)
	}
	if e.pod("init").running("side") == nil {
		t.Error("the sidecar does not run beside main")
	}
	p := e.pod("init")
	side, main := p.running("side"), p.running("main")
	dir := filepath.Join(e.logsDir, "default_"+e.podName("init")+"_"+p.ready().Metadata.Uid)
	readMain, readSide := keepLog(t, filepath.Join(dir, "main", "0.log")), keepLog(t, filepath.Join(dir, "side", "0.log"))
	e.remove("init.yaml")
	eventually(t, time.Minute, "the pod removed", func() bool { return len(e.pod("init").sandboxes) == 0 })
	// The sidecar stopped after main: its stop message came after main's.
	mainLog, sideLog := readMain(), readSide()
	mi, si := strings.Index(mainLog, "main-stopped"), strings.Index(sideLog, "side-stopped")
	if mi < 0 || si < 0 {
		t.Fatalf("stop messages missing: main %q side %q (%s %s)", mainLog, sideLog, main.Id, side.Id)
	}
	mainT, _ := time.Parse(time.RFC3339Nano, strings.Fields(mainLog[strings.LastIndex(mainLog[:mi], "\n")+1:])[0])
	sideT, _ := time.Parse(time.RFC3339Nano, strings.Fields(sideLog[strings.LastIndex(sideLog[:si], "\n")+1:])[0])
	if !sideT.After(mainT) {
		t.Errorf("sidecar stopped at %v, main at %v: want the sidecar last", sideT, mainT)
	}
}

func TestFailingInitContainer(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	pod := func(name, policy string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  hostNetwork: true
  restartPolicy: %s
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: setup
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo trying; exit 1"]
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
`, name, policy, busybox, busybox)
	}
	e.write("retry.yaml", pod("retry", "Always"))
	e.write("never.yaml", pod("never", "Never"))
	eventually(t, time.Minute, "the init container retried twice", func() bool {
		c := e.pod("retry").container("setup")
		return c != nil && c.Metadata.Attempt >= 2
	})
	// The Never pod fails as soon as its init container exited, which a
	// loaded machine may delay past the retries of the other pod.
	var pods map[string]psPod
	eventually(t, time.Minute, "the Never pod failed", func() bool {
		pods = e.psPods()
		return pods[e.podName("never")].Phase == "Failed"
	})
	if p := pods[e.podName("never")]; p.Phase != "Failed" || p.Reason != "Init:Error" {
		t.Errorf("never: phase %s reason %s, want Failed Init:Error", p.Phase, p.Reason)
	}
	// The Never pod is done: its sandbox is stopped, its containers kept.
	if c := e.pod("never").newest("setup"); c == nil || c.Metadata.Attempt != 0 {
		t.Errorf("an init container of a Never pod was retried: %v", c)
	}
	for _, n := range []string{"retry", "never"} {
		if e.pod(n).newest("main") != nil {
			t.Errorf("%s: main started although its init container failed", n)
		}
	}
	if r := pods[e.podName("retry")].Reason; !strings.HasPrefix(r, "Init:") {
		t.Errorf("retry reason %q, want Init:...", r)
	}
}

func TestProbesAndHooks(t *testing.T) {
	// Probes of a hostNetwork pod go to the node IP: --node-ip makes it
	// loopback, the only address e2e traffic may go to.
	e := newEnv(t, "--node-ip", "127.0.0.1")
	e.startBosun()
	port := freePort(t)
	marks := t.TempDir()
	e.write("probed.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: probed
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 5
  volumes:
  - {name: marks, hostPath: {path: %[3]s, type: Directory}}
  containers:
  - name: web
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /tmp/www && exec httpd -f -p 127.0.0.1:%[2]d -h /tmp/www"]
    ports: [{name: http, containerPort: %[2]d}]
    volumeMounts: [{name: marks, mountPath: /marks}]
    startupProbe:
      tcpSocket: {port: http}
      periodSeconds: 1
    readinessProbe:
      httpGet: {path: /ready, port: http}
      periodSeconds: 1
      failureThreshold: 1
    livenessProbe:
      exec: {command: ["sh", "-c", "test ! -f /marks/sick"]}
      periodSeconds: 1
      failureThreshold: 2
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "echo started >> /marks/poststart"]}
      preStop:
        exec: {command: ["sh", "-c", "echo stopping >> /marks/prestop"]}
`, busybox, port, marks))
	c := e.waitRunning("probed", "web")
	ready := func() bool {
		c := e.psPods()[e.podName("probed")].Containers
		return len(c) == 1 && c[0].Ready
	}
	if ready() {
		t.Error("ready before its readiness probe passed")
	}
	// Make /ready exist inside the container, through its root from the
	// host, once the container made /tmp/www (it may not have yet).
	readyFile := fmt.Sprintf("/proc/%d/root/tmp/www/ready", containerPID(t, c.Id))
	var werr error
	eventually(t, 30*time.Second, "/tmp/www in the container to write /ready into", func() bool {
		werr = os.WriteFile(readyFile, []byte("ok\n"), 0o644)
		return werr == nil || !errors.Is(werr, fs.ErrNotExist)
	})
	if werr != nil {
		t.Fatal(werr)
	}
	eventually(t, time.Minute, "ready after /ready exists", ready)
	// The hook runs after the start bosun logs: wait for its line.
	var poststart []byte
	eventually(t, 30*time.Second, "the postStart hook's line", func() bool {
		poststart, _ = os.ReadFile(filepath.Join(marks, "poststart"))
		return len(poststart) > 0
	})
	if string(poststart) != "started\n" {
		t.Errorf("postStart hook wrote %q", poststart)
	}

	// Liveness: the container is killed and restarted.
	if err := os.WriteFile(filepath.Join(marks, "sick"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the container restarted by its liveness probe", func() bool {
		c := e.pod("probed").running("web")
		return c != nil && c.Metadata.Attempt >= 1
	})
	os.Remove(filepath.Join(marks, "sick"))
	// A loaded machine may let the restarted container fail its liveness
	// probe twice before the mark was gone, and be killed again (a second
	// preStop line): once it passed one, no kill is due.
	eventually(t, time.Minute, "the restarted container passing its liveness probe", func() bool {
		cs := e.psPods()[e.podName("probed")].Containers
		return len(cs) == 1 && cs[0].RestartCount >= 1 &&
			slices.ContainsFunc(cs[0].Probes, func(p probeResult) bool { return p.Kind == "liveness" && p.Success })
	})
	if ev := e.cli("events"); !strings.Contains(ev, "ContainerKilled") || !strings.Contains(ev, "liveness probe failed") {
		t.Errorf("no ContainerKilled event:\n%s", ev)
	}
	if b, _ := os.ReadFile(filepath.Join(marks, "prestop")); !strings.Contains(string(b), "stopping") {
		t.Errorf("preStop did not run before the liveness kill? %q", b)
	}
	os.Remove(filepath.Join(marks, "prestop"))

	// preStop runs when the pod is removed.
	e.remove("probed.yaml")
	eventually(t, time.Minute, "removed", func() bool { return len(e.pod("probed").sandboxes) == 0 })
	if b, _ := os.ReadFile(filepath.Join(marks, "prestop")); string(b) != "stopping\n" {
		t.Errorf("preStop hook wrote %q, want it to run once on removal", b)
	}
}

func TestRefusedAndTerminationMessages(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("nonroot.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: nonroot
spec:
  hostNetwork: true
  securityContext: {runAsNonRoot: true}
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
`, busybox))
	e.write("msg.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: msg
spec:
  hostNetwork: true
  restartPolicy: Never
  containers:
  - name: file
    image: %[1]s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo 'disk full on /data' > /dev/termination-log; exit 1"]
  - name: logs
    image: %[1]s
    imagePullPolicy: IfNotPresent
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["sh", "-c", "echo 'last words'; exit 2"]
`, busybox))
	eventually(t, time.Minute, "the refusal and the messages", func() bool {
		pods := e.psPods()
		m := pods[e.podName("msg")]
		return strings.Contains(pods[e.podName("nonroot")].SyncError, "runAsNonRoot") && len(m.Containers) == 2 &&
			m.Containers[0].State == "Terminated" && m.Containers[1].State == "Terminated"
	})
	pods := e.psPods()
	if err := pods[e.podName("nonroot")].SyncError; !strings.Contains(err, "runs as root") {
		t.Errorf("runAsNonRoot refusal: %q", err)
	}
	if len(e.pod("nonroot").containers) != 0 {
		t.Error("a container was created for a pod that must not run as root")
	}
	m := pods[e.podName("msg")].Containers
	if m[0].Message != "disk full on /data" || m[1].Message != "last words" {
		t.Errorf("termination messages %q and %q", m[0].Message, m[1].Message)
	}
	e.stopBosun(syscall.SIGTERM)
}
