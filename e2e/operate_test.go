package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func crashPod(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo attempt; echo oops >&2; exit 3"]
  - name: side
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]
`, name, busybox, busybox)
}

func TestOperatorSeesPodsEventsAndLogs(t *testing.T) {
	// A long second backoff keeps crashy in CrashLoopBackOff while we look.
	e := newEnv(t, "--crash-loop-backoff-initial=60s", "--crash-loop-backoff-max=60s")
	e.startBosun()
	e.write("web.yaml", sleeperPod("web", "Always"))
	e.write("crashy.yaml", crashPod("crashy"))
	e.write("broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\nspec:\n  containerz: []\n")
	e.waitRunning("web", "main")
	eventually(t, time.Minute, "crashy in CrashLoopBackOff", func() bool {
		out, err := e.cliErr("ps")
		return err == nil && strings.Contains(out, "CrashLoopBackOff")
	})

	if fi, err := os.Stat(e.apiSock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("api socket mode %v %v, want 0600", fi.Mode(), err)
	}
	ps := e.cli("ps")
	lines := strings.Split(ps, "\n")
	if !strings.HasPrefix(lines[0], "NAMESPACE") || !strings.Contains(lines[0], "READY") || !strings.Contains(lines[0], "RESTARTS") {
		t.Errorf("ps header %q", lines[0])
	}
	row := func(name string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 1 && f[1] == e.podName(name) {
				return f
			}
		}
		t.Fatalf("ps has no row for %s:\n%s", name, ps)
		return nil
	}
	if r := row("web"); r[2] != "1/1" || r[3] != "Running" || r[4] != "0" || !strings.HasSuffix(ps, "") || r[len(r)-1] != filepath.Join(e.dir, "web.yaml") {
		t.Errorf("web row %v", r)
	}
	if r := row("crashy"); r[2] != "1/2" || r[3] != "CrashLoopBackOff" {
		t.Errorf("crashy row %v", r)
	}
	if !strings.Contains(ps, "REJECTED MANIFESTS") || !strings.Contains(ps, filepath.Join(e.dir, "broken.yaml")+": line 6: spec.containerz: unknown field") {
		t.Errorf("ps does not show the rejected manifest:\n%s", ps)
	}

	insp := e.cli("inspect", "crashy")
	for _, want := range []string{"Name:            " + e.podName("crashy"), "State:           Waiting (CrashLoopBackOff)", "Last state:      exit code 3, Error", "Manifest:        " + filepath.Join(e.dir, "crashy.yaml")} {
		if !strings.Contains(insp, want) {
			t.Errorf("inspect lacks %q:\n%s", want, insp)
		}
	}
	events := e.cli("events")
	for _, want := range []string{"ManifestRejected", "PodCreated", "ContainerExited", "ContainerRestarted"} {
		if !strings.Contains(events, want) {
			t.Errorf("events lack %s:\n%s", want, events)
		}
	}
	if logs := e.cli("logs", "crashy", "-c", "main", "--previous"); !strings.Contains(logs, "attempt\n") || !strings.Contains(logs, "oops\n") {
		t.Errorf("logs --previous %q", logs)
	}
	if logs := e.cli("logs", "crashy", "-c", "side", "--tail", "1", "--timestamps"); strings.Count(logs, "\n") != 1 || !strings.Contains(logs, " tick ") {
		t.Errorf("logs --tail 1 --timestamps %q", logs)
	}
	// logs -f keeps printing new lines.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sc, wait := e.cliStream(ctx, "logs", e.podName("crashy"), "-c", "side", "-f", "--tail", "0")
	got := 0
	for got < 3 && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "tick ") {
			got++
		}
	}
	cancel()
	wait()
	if got < 3 {
		t.Errorf("logs -f printed %d new lines, want 3", got)
	}

	// bosun removes its socket when it exits; its absence is a clear error
	// naming the socket.
	e.stopBosun(syscall.SIGTERM)
	if _, err := os.Lstat(e.apiSock); !os.IsNotExist(err) {
		t.Errorf("after bosun exited, its socket %s is still there (%v)", e.apiSock, err)
	}
	if out, err := e.cliErr("ps"); err == nil || !strings.Contains(out, "bosun is not running (no server at "+e.apiSock+")") {
		t.Errorf("ps without a daemon: %v %q", err, out)
	}
}

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	body, err := getAnswer("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	return mf
}

// value finds a sample by its labels.
func value(mf map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := mf[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		match := true
		for k, v := range labels {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("web.yaml", sleeperPod("web", "Always"))
	e.write("broken.yaml", "apiVersion: v1\nkind: Pod\n")
	e.waitRunning("web", "main")
	addr := e.httpAddr()
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		t.Errorf("endpoints on %s, want loopback", addr)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if body, err := getAnswer("http://" + addr + path); err != nil || body != "ok\n" {
			t.Errorf("%s: %q %v", path, body, err)
		}
	}
	var mf map[string]*dto.MetricFamily
	eventually(t, 30*time.Second, "metrics of the running pod", func() bool {
		mf = scrape(t, addr)
		v, _ := value(mf, "bosun_pods", map[string]string{"phase": "Running"})
		return v >= 1
	})
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"bosun_runtime_up", nil, 1},
		{"bosun_manifest_errors", nil, 1},
		{"bosun_cri_call_duration_seconds", map[string]string{"method": "RunPodSandbox", "code": "OK"}, 1},
		{"bosun_cri_call_duration_seconds", map[string]string{"method": "ListContainers", "code": "OK"}, 1},
		{"bosun_sync_duration_seconds", nil, 1},
		{"bosun_container_restarts_total", map[string]string{"pod": e.podName("web"), "container": "main"}, 0},
		{"bosun_build_info", nil, 1},
	} {
		v, ok := value(mf, c.name, c.labels)
		if !ok || v < c.min {
			t.Errorf("%s%v = %v (found %v), want >= %v", c.name, c.labels, v, ok, c.min)
		}
	}
}

func TestSystemdNotifyReadyAndWatchdog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	e := newEnv(t)
	e.extraEnv = []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"}
	e.startBosun()
	seen := map[string]bool{}
	buf := make([]byte, 256)
	deadline := time.Now().Add(time.Minute)
	for (!seen["READY=1"] || !seen["WATCHDOG=1"]) && time.Now().Before(deadline) {
		_ = conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		seen[string(buf[:n])] = true
	}
	if !seen["READY=1"] || !seen["WATCHDOG=1"] {
		t.Errorf("notifications %v, want READY=1 and WATCHDOG=1", seen)
	}
}

func TestChattyContainerLogIsRotated(t *testing.T) {
	e := newEnv(t, "--container-log-max-size=64Ki", "--container-log-max-files=3")
	e.startBosun()
	e.write("chatty.yaml", onePod("chatty", "Always", 1, "sh", "-c",
		"i=0; while true; do i=$((i+1)); echo line $i of a chatty container that fills its log quickly; done"))
	e.waitRunning("chatty", "main")
	uid := e.pod("chatty").ready().Metadata.Uid
	log := filepath.Join(e.logsDir, "default_"+e.podName("chatty")+"_"+uid, "main", "0.log")
	var rotated []string
	eventually(t, 2*time.Minute, "two rotations", func() bool {
		rotated, _ = filepath.Glob(log + ".*")
		return len(rotated) >= 2
	})
	// The runtime writes to the new file after a reopen (between the rename
	// and the reopen there is a moment without one).
	var fi1 os.FileInfo
	eventually(t, 30*time.Second, "the current log file", func() bool {
		var err error
		fi1, err = os.Stat(log)
		return err == nil
	})
	eventually(t, 30*time.Second, "the current log growing", func() bool {
		fi2, err := os.Stat(log)
		return err == nil && (fi2.Size() > fi1.Size() || !os.SameFile(fi1, fi2))
	})
	time.Sleep(11 * time.Second) // one more rotation period: still at most 2 rotated files
	if rotated, _ = filepath.Glob(log + ".*"); len(rotated) > 2 {
		t.Errorf("%d rotated files kept, want at most 2 (3 files in all)", len(rotated))
	}
}
