package e2e

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readsBudgetKiB is the most bosun's resident memory may ever reach (its
// VmHWM) in the hostile-read tests: a container's files and logs are read
// with bounds of at most 1 MiB, so what bosun holds stays far below it.
const readsBudgetKiB = 100 << 10

// alive fails the test now if the bosun process pid has exited or is not
// the one running.
func (e *env) alive(t *testing.T, pid int) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.bosun == nil || e.bosun.Process.Pid != pid {
		t.Fatalf("bosun %d is not the bosun running", pid)
	}
	select {
	case <-e.exited:
		l := e.log()
		cause := ""
		if i := strings.Index(l, "fatal error:"); i >= 0 {
			cause, _, _ = strings.Cut(l[i:], "\n")
		}
		t.Fatalf("bosun %d exited: %s\n%s", pid, cause, tail([]byte(l), 30))
	default:
	}
}

// bosunPID is the PID of the bosun this test started.
func (e *env) bosunPID() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bosun.Process.Pid
}

// containerLog is the log file of instance attempt of container main of
// pod name, "" if there is none.
func (e *env) containerLog(name string, attempt int) string {
	logs, _ := filepath.Glob(filepath.Join(e.logsDir, "default_"+e.podName(name)+"_*", "main", fmt.Sprintf("%d.log", attempt)))
	if len(logs) != 1 {
		return ""
	}
	return logs[0]
}

// withinBudget fails the test if bosun pid's resident memory ever passed
// readsBudgetKiB.
func withinBudget(t *testing.T, pid int) {
	t.Helper()
	rss, hwm := procMemory(pid)
	if hwm == 0 || hwm > readsBudgetKiB {
		t.Errorf("bosun's resident memory peaked at %d KiB (now %d KiB), over the budget of %d KiB", hwm, rss, readsBudgetKiB)
	}
	t.Logf("bosun's resident memory: %d KiB, peak %d KiB", rss, hwm)
}

func TestAContainerThatTruncatesItsHostsFileToATerabyteCannotCrashBosun(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	pid := e.bosunPID()
	// hostAliases make bosun manage a hostNetwork pod's /etc/hosts. The
	// first instance makes its /etc/hosts a 1 TiB sparse file for
	// bosun to find at the restart, and exits; the second says how big the
	// /etc/hosts it was given is, and stays.
	e.write("hostsbomb.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hostsbomb
spec:
  hostNetwork: true
  hostAliases:
  - {ip: 127.0.0.1, hostnames: [hostsbomb.local]}
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: state, emptyDir: {}}
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    volumeMounts:
    - {name: state, mountPath: /state}
    command: ["sh", "-c"]
    args:
    - |
      if [ -e /state/truncated ]; then echo "hosts of $(busybox wc -c < /etc/hosts) bytes"; cat /etc/hosts; exec sleep 3600; fi
      busybox truncate -s 1099511627776 /etc/hosts && touch /state/truncated && echo truncated
      exit 1
`, busybox))
	var said string
	eventually(t, 2*time.Minute, "the restarted instance's words", func() bool {
		e.alive(t, pid)
		c := e.pod("hostsbomb").running("main")
		if c == nil || c.Metadata.Attempt != 1 {
			return false
		}
		b, _ := os.ReadFile(e.containerLog("hostsbomb", 1))
		said = string(b)
		return strings.Contains(said, "hosts of ")
	})
	e.alive(t, pid)
	withinBudget(t, pid)
	i := strings.Index(said, "hosts of ")
	n, err := strconv.Atoi(strings.Fields(said[i+len("hosts of "):])[0])
	if err != nil || n == 0 || n > 1<<20 {
		t.Errorf("the restarted instance was given an /etc/hosts of %d bytes (%v), want a fresh one", n, err)
	}
	if !strings.Contains(said, "hostsbomb.local") {
		t.Errorf("the restarted instance's /etc/hosts lacks its alias:\n%s", said)
	}
	if b, _ := os.ReadFile(e.containerLog("hostsbomb", 0)); !strings.Contains(string(b), "truncated") {
		t.Errorf("the first instance did not truncate its /etc/hosts:\n%s", b)
	}
}

func TestAHugeLineWithoutANewlineGivesABoundedTerminationMessage(t *testing.T) {
	// No rotation: the whole 200 MB stays in the one log file.
	e := newEnv(t, "--container-log-max-size=1Gi")
	e.startBosun()
	pid := e.bosunPID()
	e.write("hugeline.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hugeline
spec:
  hostNetwork: true
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["sh", "-c", "busybox head -c 200000000 /dev/zero | busybox tr '\\0' x; exit 1"]
`, busybox))
	var message string
	eventually(t, 5*time.Minute, "the container's termination message", func() bool {
		e.alive(t, pid)
		p := e.psPods()[e.podName("hugeline")]
		if len(p.Containers) != 1 || p.Containers[0].State != "Terminated" {
			return false
		}
		message = p.Containers[0].Message
		return message != ""
	})
	e.alive(t, pid)
	withinBudget(t, pid)
	if len(message) > 2048 || strings.Trim(message, "x") != "" {
		t.Errorf("termination message of %d bytes, want the line's last 2048 at most: %.80q", len(message), message)
	}
	if fi, err := os.Stat(e.containerLog("hugeline", 0)); err != nil || fi.Size() < 200e6 {
		t.Errorf("the container's log is not the whole line: %v %v", fi, err)
	}
}

func TestRotationNeverCompressesAHostFileLinkedIntoTheLogDirectory(t *testing.T) {
	e := newEnv(t, "--container-log-max-size=64Ki", "--container-log-max-files=5")
	e.startBosun()
	h := newHostTargets(t)
	if err := os.MkdirAll(e.logsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A log shipper's access to the pod logs dir, in the pod itself: it
	// plants a rotated log that is a link to a root-only host file and
	// sorts after every real one, then fills its log past the rotation size.
	const planted = "0.log.99991231-235959"
	e.write("shipper.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: shipper
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: logs, hostPath: {path: %[2]s, type: Directory}}
  containers:
  - name: main
    image: %[1]s
    imagePullPolicy: IfNotPresent
    volumeMounts:
    - {name: logs, mountPath: /logs}
    command: ["sh", "-c"]
    args:
    - |
      until [ -L /logs/default_%[3]s_*/main/%[4]s ]; do
        for d in /logs/default_%[3]s_*/main; do ln -s %[5]s $d/%[4]s; done
        sleep 0.1
      done
      echo planted
      i=0; while true; do i=$((i+1)); echo "line $i of a log shipper that fills its own log"; [ $((i %% 200)) -eq 0 ] && sleep 0.05; done
`, busybox, e.logsDir, e.podName("shipper"), planted, h.file))
	var dir string
	eventually(t, 2*time.Minute, "two rotations of the shipper's log", func() bool {
		dirs, _ := filepath.Glob(filepath.Join(e.logsDir, "default_"+e.podName("shipper")+"_*", "main"))
		if len(dirs) != 1 {
			return false
		}
		dir = dirs[0]
		gz, _ := filepath.Glob(filepath.Join(dir, "0.log.2*.gz"))
		return len(gz) >= 1
	})
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), planted) && en.Name() != planted {
			t.Errorf("rotation made %s of the planted link", en.Name())
		}
		if strings.HasSuffix(en.Name(), ".gz") && strings.Contains(gunzip(t, filepath.Join(dir, en.Name())), strings.TrimSpace(hostSecret)) {
			t.Errorf("%s holds the host file", en.Name())
		}
	}
	h.unchanged(t)
}

// gunzip is the content of the gzip file path.
func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(b)
}
