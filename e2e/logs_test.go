package e2e

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// keepLog opens a container's log file, so that a test can read what the
// container wrote until its end after bosun removed the file with its pod.
func keepLog(t *testing.T, path string) (read func() string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return func() string {
		b, _ := io.ReadAll(io.NewSectionReader(f, 0, 1<<30))
		return string(b)
	}
}

// names lists the entries of dir, sorted; none when it does not exist.
func names(dir string) []string {
	es, _ := os.ReadDir(dir)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// podLogDir is the log directory of a pod of this test with uid.
func (e *env) podLogDir(name, uid string) string {
	return filepath.Join(e.logsDir, "default_"+e.podName(name)+"_"+uid)
}

// links lists the log links bosun made for pod name.
func (e *env) links(name string) []string {
	var out []string
	for _, n := range names(e.linksDir) {
		if strings.HasPrefix(n, e.podName(name)+"_default_") {
			out = append(out, n)
		}
	}
	return out
}

func TestCrashLoopKeepsTheCurrentAndPreviousLogsAndLinksThem(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("crash.yaml", onePod("crash", "Always", 1, "sh", "-c", "echo run $(date +%s%N); exit 1"))
	eventually(t, 2*time.Minute, "five restarts", func() bool {
		c := e.pod("crash").container("main")
		return c != nil && c.Metadata.Attempt >= 5
	})
	var files, links, want, wantLinks []string
	eventually(t, time.Minute, "the current and previous log files only, each linked", func() bool {
		p := e.pod("crash")
		c := p.container("main")
		if c == nil {
			return false
		}
		dir := filepath.Join(e.podLogDir("crash", p.ready().Metadata.Uid), "main")
		files, links = names(dir), e.links("crash")
		want = []string{fmt.Sprintf("%d.log", c.Metadata.Attempt-1), fmt.Sprintf("%d.log", c.Metadata.Attempt)}
		slices.Sort(want)
		wantLinks = nil
		for _, c := range p.containers {
			wantLinks = append(wantLinks, e.podName("crash")+"_default_main-"+c.Id+".log")
		}
		slices.Sort(wantLinks)
		return slices.Equal(files, want) && slices.Equal(links, wantLinks)
	})
	for _, l := range links {
		target, err := os.Readlink(filepath.Join(e.linksDir, l))
		if err != nil || !strings.HasPrefix(target, e.logsDir+"/") {
			t.Errorf("link %s -> %s (%v), want a file below %s", l, target, err, e.logsDir)
		}
	}
	// The container keeps crashing: a restart between ps and the read may
	// take the file away; the next try reads the new previous one.
	eventually(t, 30*time.Second, "logs --previous", func() bool {
		out, err := e.cliErr("logs", "crash", "--previous")
		return err == nil && strings.HasPrefix(out, "run ")
	})
}

func TestRemovedAndReplacedPodsTakeTheirLogsAlong(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("gone.yaml", sleeperPod("gone", "Always"))
	e.write("edit.yaml", sleeperPod("edit", "Always"))
	e.waitRunning("gone", "main")
	e.waitRunning("edit", "main")
	goneDir := e.podLogDir("gone", e.pod("gone").ready().Metadata.Uid)
	oldDir := e.podLogDir("edit", e.pod("edit").ready().Metadata.Uid)
	for _, d := range []string{goneDir, oldDir} {
		if _, err := os.Stat(filepath.Join(d, "main", "0.log")); err != nil {
			t.Fatalf("no log file to begin with: %v", err)
		}
	}
	if len(e.links("gone")) != 1 || len(e.links("edit")) != 1 {
		t.Fatalf("links %v, want one per pod", names(e.linksDir))
	}

	e.write("edit.yaml", onePod("edit", "Always", 1, "sleep", "3601"))
	eventually(t, time.Minute, "the replaced pod's old log directory gone", func() bool {
		_, err := os.Stat(oldDir)
		return os.IsNotExist(err)
	})
	c := e.waitRunning("edit", "main")
	if got := e.links("edit"); len(got) != 1 || !strings.HasSuffix(got[0], c.Id+".log") {
		t.Errorf("links of the replaced pod %v, want only the new container's", got)
	}

	e.remove("gone.yaml")
	eventually(t, time.Minute, "the removed pod's log directory and link gone", func() bool {
		_, err := os.Stat(goneDir)
		return os.IsNotExist(err) && len(e.links("gone")) == 0
	})
	if _, err := os.Stat(e.podLogDir("edit", e.pod("edit").ready().Metadata.Uid)); err != nil {
		t.Errorf("the log directory of the pod that runs: %v", err)
	}
}

// TestLogsFollowAcrossRotation follows a container that writes numbered
// lines while bosun rotates its log: every line arrives once, in order.
func TestLogsFollowAcrossRotation(t *testing.T) {
	e := newEnv(t, "--container-log-max-size=64Ki", "--container-log-max-files=3")
	e.startBosun()
	e.write("chatty.yaml", onePod("chatty", "Always", 1, "sh", "-c",
		`i=0; while true; do i=$((i+1)); echo "line $i of a chatty container that fills its log"; [ $((i % 200)) -eq 0 ] && sleep 0.05; done`))
	e.waitRunning("chatty", "main")
	// Follow for at least 25 s (two rotation periods of bosun) and 10000
	// lines; a loaded machine may need longer for the lines.
	const minFollow, minLines = 25 * time.Second, 10000
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	followed := time.Now()
	sc, wait := e.cliStream(ctx, "logs", e.podName("chatty"), "-f", "--tail", "1")
	first, prev, gaps := -1, -1, 0
	for (prev-first < minLines || time.Since(followed) < minFollow) && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "line" {
			continue
		}
		i, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		if first < 0 {
			first = i
		}
		if prev >= 0 && i != prev+1 && gaps < 5 {
			gaps++
			t.Errorf("line %d came after line %d", i, prev)
		}
		prev = i
	}
	cancel()
	wait()
	var rotated []string
	_ = filepath.WalkDir(e.logsDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), ".log.") {
			rotated = append(rotated, d.Name())
		}
		return nil
	})
	if len(rotated) == 0 {
		t.Fatalf("no rotated log under %s: the test saw no rotation", e.logsDir)
	}
	if prev-first < minLines {
		t.Errorf("followed lines %d to %d only", first, prev)
	}
	t.Logf("followed lines %d to %d across rotations (now kept: %v)", first, prev, rotated)
}
