package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/runtime"
)

// Kubelet parity where a real node notices (issue 14): what a pod sees of
// its hostname, resolvers, OOM score and seccomp profile, and the cgroup
// driver bosun picks.

// execIn runs cmd in container id and returns its output.
func execIn(t *testing.T, id string, cmd ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, out, err := cri.ExecSync(ctx, id, cmd, 30*time.Second)
	if err != nil || code != 0 {
		t.Fatalf("exec %v in %s: exit %d, %v: %s", cmd, id, code, err, out)
	}
	return string(out)
}

// podWith is a pod of one busybox container, "main", that sleeps; spec and
// container are extra YAML lines at the pod's spec and the container's level.
func podWith(name, spec, container string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 1
%s
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
%s
`, name, spec, busybox, container)
}

// resolvConf is the resolv.conf in container id, its lines grouped as
// nameserver, search, options (the runtime writes search first), in their
// order within each group, blank lines dropped.
func resolvConf(t *testing.T, id string) string {
	t.Helper()
	lines := strings.Split(execIn(t, id, "cat", "/etc/resolv.conf"), "\n")
	var b strings.Builder
	for _, kw := range []string{"nameserver ", "search ", "options "} {
		for _, l := range lines {
			if strings.HasPrefix(l, kw) {
				b.WriteString(l + "\n")
			}
		}
	}
	return b.String()
}

func TestPodNetworkPodGetsTheKubeletsHostnameAndTheResolvConfGiven(t *testing.T) {
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	// Not the host's: a systemd-resolved host has 127.0.0.53 here, which a
	// pod cannot reach.
	if err := os.WriteFile(resolv, []byte("nameserver 192.0.2.10\nnameserver 192.0.2.11\nsearch corp.test\noptions ndots:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "--resolv-conf", resolv)
	e.startBosun()
	e.write("named.yaml", podWith("named", "  hostNetwork: false", ""))
	e.write("default.yaml", podWith("default-dns", "  hostNetwork: false\n  dnsPolicy: Default", ""))
	named := e.waitRunning("named", "main")
	dflt := e.waitRunning("default-dns", "main")

	if got, want := strings.TrimSpace(execIn(t, named.Id, "hostname")), e.podName("named"); got != want {
		t.Errorf("hostname %q, want the kubelet's %q (<name>-<node>)", got, want)
	}
	want := "nameserver 192.0.2.10\nnameserver 192.0.2.11\nsearch corp.test\noptions ndots:2\n"
	for name, id := range map[string]string{"ClusterFirst without a cluster DNS": named.Id, "Default": dflt.Id} {
		if got := resolvConf(t, id); got != want {
			t.Errorf("%s: /etc/resolv.conf\n%s\nwant what --resolv-conf says:\n%s", name, got, want)
		}
	}
	if !strings.Contains(e.log(), "dnsPolicy ClusterFirst without a cluster DNS") {
		t.Error("no warning that ClusterFirst falls back to the host's resolvers")
	}
}

func TestClusterFirstUsesTheClusterDNS(t *testing.T) {
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 192.0.2.10\nsearch corp.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "--resolv-conf", resolv, "--cluster-dns", "192.0.2.53", "--cluster-domain", "cluster.test")
	e.startBosun()
	e.write("cf.yaml", podWith("cf", "  hostNetwork: false", ""))
	e.write("hn.yaml", podWith("hn", "  hostNetwork: true", ""))
	cf := e.waitRunning("cf", "main")
	hn := e.waitRunning("hn", "main")
	want := "nameserver 192.0.2.53\nsearch default.svc.cluster.test svc.cluster.test cluster.test corp.test\noptions ndots:5\n"
	if got := resolvConf(t, cf.Id); got != want {
		t.Errorf("ClusterFirst: /etc/resolv.conf\n%s\nwant\n%s", got, want)
	}
	// The kubelet gives a hostNetwork ClusterFirst pod the host's resolvers.
	if got, want := resolvConf(t, hn.Id), "nameserver 192.0.2.10\nsearch corp.test\n"; got != want {
		t.Errorf("hostNetwork ClusterFirst: /etc/resolv.conf\n%s\nwant\n%s", got, want)
	}
}

// ownOOMScoreAdj is the oom_score_adj of the private containerd: with
// restrict_oom_score_adj it raises every lower score to its own.
func ownOOMScoreAdj(t *testing.T) int64 {
	t.Helper()
	pid, err := os.ReadFile(filepath.Join(containerdDir, "containerd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func memTotal(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb * 1024
		}
	}
	t.Fatal("no MemTotal in /proc/meminfo")
	return 0
}

func TestOOMScoreFollowsQoSAndRequestsDefaultToLimits(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	floor := ownOOMScoreAdj(t)
	const request = 64 << 20
	burstable := 1000 - 1000*request/memTotal(t)
	e.write("besteffort.yaml", podWith("besteffort", "  hostNetwork: true", ""))
	e.write("burstable.yaml", podWith("burstable", "  hostNetwork: true", "    resources: {requests: {memory: 64Mi}}"))
	e.write("critical.yaml", podWith("critical", "  hostNetwork: true\n  priorityClassName: system-node-critical", ""))
	e.write("limits.yaml", podWith("limits", "  hostNetwork: true", `    resources: {limits: {memory: 64Mi, cpu: 100m}}
    env:
    - {name: REQ_MEM, valueFrom: {resourceFieldRef: {resource: requests.memory, divisor: 1Mi}}}
    - {name: REQ_CPU, valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}}`))
	for _, tc := range []struct {
		pod  string
		want int64
	}{
		{"besteffort", 1000},
		{"burstable", burstable},
		{"critical", max(-997, floor)},
		// Limits alone: requests default to them, so the pod is Guaranteed.
		{"limits", max(-997, floor)},
	} {
		c := e.waitRunning(tc.pod, "main")
		got := strings.TrimSpace(execIn(t, c.Id, "cat", "/proc/1/oom_score_adj"))
		if got != strconv.FormatInt(tc.want, 10) {
			t.Errorf("pod %s: oom_score_adj %s, want %d (containerd's own is %d)", tc.pod, got, tc.want, floor)
		}
	}
	c := e.waitRunning("limits", "main")
	if got := execIn(t, c.Id, "sh", "-c", "echo $REQ_MEM $REQ_CPU"); got != "64 100\n" {
		t.Errorf("requests.memory and requests.cpu of a container with limits only: %q, want \"64 100\" (the limits)", got)
	}
}

func TestLocalhostSeccompProfileIsReadFromTheProfileRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "operator"), 0o755); err != nil {
		t.Fatal(err)
	}
	profile := `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`
	if err := os.WriteFile(filepath.Join(root, "operator", "no-mkdir.json"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "--seccomp-profile-root", root)
	e.startBosun()
	e.write("confined.yaml", podWith("confined", "  hostNetwork: true\n  securityContext: {seccompProfile: {type: Localhost, localhostProfile: operator/no-mkdir.json}}", ""))
	c := e.waitRunning("confined", "main")
	if got := execIn(t, c.Id, "sh", "-c", "mkdir /tmp/x 2>&1; true"); !strings.Contains(got, "Operation not permitted") {
		t.Errorf("mkdir under the profile: %q, want it refused", got)
	}

	e.write("missing.yaml", podWith("missing", "  hostNetwork: true", "    securityContext: {seccompProfile: {type: Localhost, localhostProfile: operator/absent.json}}"))
	want := "seccomp profile " + filepath.Join(root, "operator", "absent.json") + ": no such file or directory"
	eventually(t, time.Minute, "the missing profile reported", func() bool { return strings.Contains(e.log(), want) })
}

func TestCgroupDriverComesFromTheRuntime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	answer, err := cri.CgroupDriver(ctx)
	if err != nil && !errors.Is(err, runtime.ErrUnimplemented) {
		t.Fatal(err)
	}
	// The private containerd runs cgroupfs; the flag says otherwise.
	e := newEnv(t, "--cgroup-driver", "systemd")
	e.startBosun()
	started := e.log()
	started = started[strings.Index(started, "msg=\"bosun started\""):]
	started = started[:strings.Index(started, "\n")]
	if errors.Is(err, runtime.ErrUnimplemented) {
		// containerd 1.x cannot say: the flag is all bosun knows.
		if !strings.Contains(started, "cgroupDriver=systemd cgroupDriverFrom=\"flag or config\"") {
			t.Errorf("first log line %q: want the flag's systemd, named as such", started)
		}
		return
	}
	if answer != "cgroupfs" {
		t.Fatalf("the test's containerd says %q, want cgroupfs", answer)
	}
	if !strings.Contains(started, "cgroupDriver=cgroupfs cgroupDriverFrom=runtime") {
		t.Errorf("first log line %q: want the runtime's cgroupfs, named as such", started)
	}
	if !strings.Contains(e.log(), "the runtime's cgroup driver wins over the one configured") {
		t.Error("no warning that --cgroup-driver was overruled")
	}
	// The pod's cgroup is the cgroupfs one, not the flag's systemd slice.
	e.write("runs.yaml", podWith("runs", "  hostNetwork: true", ""))
	c := e.waitRunning("runs", "main")
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", containerPID(t, c.Id)))
	if err != nil {
		t.Fatal(err)
	}
	if want := runtime.CgroupParent("cgroupfs", c.Labels[runtime.LabelPodUID]) + "/"; !strings.Contains(string(cg), want) {
		t.Errorf("container cgroups:\n%s\nwant them below %s", cg, want)
	}
}
