package sync

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/podfs"
)

// writeLogs writes the log file of every container instance the fake
// runtime has, as containerd would, and returns their paths.
func (h *harness) writeLogs() {
	h.t.Helper()
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	for id, c := range h.rt.containers {
		sb := h.rt.sandboxes[h.rt.sandboxOf[id]]
		m := sb.Metadata
		p := filepath.Join(h.loop.cfg.Node.PodLogsDir, m.Namespace+"_"+m.Name+"_"+m.Uid, c.LogPath)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			h.t.Fatal(err)
		}
		if _, err := os.Stat(p); err != nil {
			if err := os.WriteFile(p, []byte(id+"\n"), 0o644); err != nil {
				h.t.Fatal(err)
			}
		}
	}
}

// logFiles lists the files below the pod logs directory, relative to it.
func (h *harness) logFiles() []string {
	h.t.Helper()
	var out []string
	root := h.loop.cfg.Node.PodLogsDir
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestLogsOfRemovedContainersGoKeepingThePreviousOne(t *testing.T) {
	h := newHarness(t, load(t, "/m/g.yaml", podYAML("g", "Always", "x", "main")))
	h.sync()
	h.writeLogs()
	uid := h.status("default/g-node1").UID
	dir := "default_g-node1_" + uid + "/main/"
	rotated := filepath.Join(h.loop.cfg.Node.PodLogsDir, dir, "0.log.20260101-000000.gz")
	if err := os.WriteFile(rotated, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		h.writeLogs()
		h.rt.exit(h.mustRun("g-node1/main").Id, 1)
		h.clock.Add(time.Minute)
		h.settle()
	}
	h.writeLogs()
	if got, want := h.logFiles(), []string{dir + "3.log", dir + "4.log"}; !slices.Equal(got, want) {
		t.Errorf("log files %v, want %v (current and previous)", got, want)
	}
	// In CrashLoopBackOff only the exited instance is left, and the log
	// before it stays for --previous.
	h.rt.exit(h.mustRun("g-node1/main").Id, 1)
	h.sync()
	h.sync()
	if n := len(h.rt.containers); n != 1 {
		t.Fatalf("%d containers in backoff, want 1", n)
	}
	if got, want := h.logFiles(), []string{dir + "3.log", dir + "4.log"}; !slices.Equal(got, want) {
		t.Errorf("in backoff, log files %v, want %v (last and previous)", got, want)
	}
}

func TestLogsOfADeadSandboxKeepTheLastInstance(t *testing.T) {
	h := newHarness(t, load(t, "/m/d.yaml", podYAML("d", "Always", "x", "main")))
	h.sync()
	h.writeLogs()
	h.rt.exit(h.mustRun("d-node1/main").Id, 1)
	h.settle()
	h.writeLogs()
	for id := range h.rt.sandboxes {
		h.rt.killSandbox(id)
	}
	h.settle()
	h.writeLogs()
	dir := "default_d-node1_" + h.status("default/d-node1").UID + "/main/"
	if got, want := h.logFiles(), []string{dir + "1.log", dir + "2.log"}; !slices.Equal(got, want) {
		t.Errorf("log files %v, want %v: the dead sandbox's last log stays for --previous", got, want)
	}
}

func TestLogDirectoryOfAPodGoneForGoodIsRemoved(t *testing.T) {
	old := load(t, "/m/r.yaml", podYAML("r", "Always", "x", "main"))
	other := load(t, "/m/o.yaml", podYAML("o", "Always", "x", "main"))
	h := newHarness(t, old, other)
	h.sync()
	h.writeLogs()
	stray := filepath.Join(h.loop.cfg.Node.PodLogsDir, "kube-system_etcd-node1_0123", "etcd", "0.log")
	if err := os.MkdirAll(filepath.Dir(stray), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stray, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.setPods(load(t, "/m/r.yaml", podYAML("r", "Always", "y", "main")), other) // replaced
	h.settle()
	h.writeLogs()
	newUID := h.status("default/r-node1").UID
	oUID := h.status("default/o-node1").UID
	want := []string{"default_o-node1_" + oUID + "/main/0.log", "default_r-node1_" + newUID + "/main/0.log", "kube-system_etcd-node1_0123/etcd/0.log"}
	if got := h.logFiles(); !slices.Equal(got, want) {
		t.Errorf("after a replacement, log files %v, want %v", got, want)
	}
	h.setPods(other) // removed
	h.settle()
	want = []string{"default_o-node1_" + oUID + "/main/0.log", "kube-system_etcd-node1_0123/etcd/0.log"}
	if got := h.logFiles(); !slices.Equal(got, want) {
		t.Errorf("after a removal, log files %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(h.loop.cfg.Node.PodLogsDir, "default_r-node1_"+newUID)); err == nil {
		t.Errorf("the removed pod's log directory is still there")
	}
}

func TestLogPathsOutsideThePodLogsDirAreRefused(t *testing.T) {
	h := newHarness(t)
	for _, m := range []*runtimeapi.PodSandboxMetadata{
		{Namespace: "default", Name: "x", Uid: "a/../../../etc"},
		{Namespace: "..", Name: "x", Uid: "../.."},
	} {
		if dir := h.loop.logs.PodDir(podfs.PodRef{Namespace: m.Namespace, Name: m.Name, UID: m.Uid}); dir != "" {
			t.Errorf("podLogDir(%v) = %q, want refused", m, dir)
		}
	}
	if dir := h.loop.logs.PodDir(podfs.PodRef{Namespace: "default", Name: "x", UID: "u"}); dir != filepath.Join(h.loop.cfg.Node.PodLogsDir, "default_x_u") {
		t.Errorf("podLogDir of a plain pod = %q", dir)
	}
}

func TestContainerLogLinksFollowTheirContainers(t *testing.T) {
	h := newHarness(t, load(t, "/m/l.yaml", podYAML("l", "Always", "x", "main")))
	links := filepath.Join(h.root, "containers")
	h.loop.cfg.LogLinksDir = links
	h.loop.logs.LinksDir = links
	h.sync()
	h.sync()
	c := h.mustRun("l-node1/main")
	link := filepath.Join(links, "l-node1_default_main-"+c.Id+".log")
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatalf("no link for the new container: %v", err)
	}
	if want := h.status("default/l-node1").Containers[0].LogPath; target != want {
		t.Errorf("link points to %s, want %s", target, want)
	}

	// A stale link into the pod logs directory goes; links elsewhere stay.
	stale := filepath.Join(links, "gone-node1_default_main-0123.log")
	foreign := filepath.Join(links, "other_default_main-4567.log")
	if err := os.Symlink(filepath.Join(h.loop.cfg.Node.PodLogsDir, "default_gone-node1_u", "main", "0.log"), stale); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent/elsewhere/0.log", foreign); err != nil {
		t.Fatal(err)
	}
	// An adopted container without its link gets one.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	h.loop.syncLogLinks()
	if _, err := os.Lstat(stale); err == nil {
		t.Errorf("stale link %s kept", stale)
	}
	if _, err := os.Lstat(foreign); err != nil {
		t.Errorf("a link that does not point into the pod logs directory was removed")
	}
	if _, err := os.Readlink(link); err != nil {
		t.Errorf("the adopted container's link was not made again: %v", err)
	}

	// Restarts: links of removed instances go with them.
	for range 3 {
		h.rt.exit(h.mustRun("l-node1/main").Id, 1)
		h.clock.Add(time.Minute)
		h.settle()
	}
	var want []string
	for id := range h.rt.containers {
		want = append(want, "l-node1_default_main-"+id+".log")
	}
	slices.Sort(want)
	want = append(want, "other_default_main-4567.log")
	if got := dirNames(t, links); !slices.Equal(got, want) {
		t.Errorf("links %v, want %v (one per container left)", got, want)
	}
	h.setPods()
	h.settle()
	if got := dirNames(t, links); !slices.Equal(got, []string{"other_default_main-4567.log"}) {
		t.Errorf("links %v after the pod was removed, want none of its own", got)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestLogsAreRotatedCompressedAndPrunedAsTheKubeletDoes(t *testing.T) {
	h := newHarness(t, load(t, "/m/l.yaml", podYAML("l", "Always", "x", "main")))
	h.loop.cfg.LogMaxSize = 100
	h.loop.cfg.LogMaxFiles = 3
	h.sync()
	h.sync()
	path := h.status("default/l-node1").Containers[0].LogPath
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var stamps []string
	for i := range 6 {
		content := strings.Repeat(string(rune('a'+i)), 50+60*(i%2)) // 50 bytes: not rotated; 110: rotated
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		h.clock.Add(90 * time.Second)
		if i%2 == 1 {
			stamps = append(stamps, h.clock.Now().Format("20060102-150405"))
		}
		h.loop.rotateLogs(t.Context())
	}
	if len(h.rt.reopened) != 3 {
		t.Fatalf("reopened %v, want 3 rotations", h.rt.reopened)
	}
	got, _ := filepath.Glob(path + ".*")
	for i := range got {
		got[i] = filepath.Base(got[i])
	}
	// 3 files in all: the current one, the newest rotated one as it is, one
	// older gzipped; the oldest went.
	want := []string{"0.log." + stamps[1] + ".gz", "0.log." + stamps[2]}
	if !slices.Equal(got, want) {
		t.Fatalf("rotated files %v, want %v", got, want)
	}
	f, err := os.Open(path + "." + stamps[1] + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	if want := strings.Repeat("d", 110); string(b) != want {
		t.Errorf("compressed file holds %q, want the second rotated log", b)
	}
	if b, _ := os.ReadFile(path + "." + stamps[2]); string(b) != strings.Repeat("f", 110) {
		t.Errorf("newest rotated file holds %q", b)
	}
}
