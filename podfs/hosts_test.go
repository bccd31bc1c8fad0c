package podfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

func TestHostsFile(t *testing.T) {
	pod := &corev1.Pod{}
	pod.Name = "web"
	pod.Spec.Hostname, pod.Spec.Subdomain = "w1", "svc"
	pod.Spec.HostAliases = []corev1.HostAlias{{IP: "10.0.0.9", Hostnames: []string{"a.example", "b.example"}}}
	got := hostsFile(pod, "w1", "svc.prod.svc.cluster.local", "10.88.7.9")
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.88.7.9\tw1.svc.prod.svc.cluster.local\tw1\n", "10.0.0.9\ta.example\tb.example\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
}

func TestHostsFileIsWrittenOncePerContent(t *testing.T) {
	f := newFS(t)
	sp, c := loadPod(t, plainPod)
	mounts, err := f.PrepareMounts(sp, c, 0, "10.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	file := mountAt(t, mounts, "/etc/hosts").HostPath
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(file, past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := f.PrepareMounts(sp, c, 1, "10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || !fi.ModTime().Equal(past) {
		t.Errorf("/etc/hosts was written again at a container start with the same content (%v)", err)
	}
	// A new sandbox with a new IP gets a new file, by rename: a sibling
	// container that has the old one mounted keeps a complete file.
	if _, err := f.PrepareMounts(sp, c, 0, "10.0.0.3"); err != nil {
		t.Fatal(err)
	}
	// The pod's line names the hostname the sandbox has: <name>-<node>.
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), "10.0.0.3\t"+sp.Name+"\n") || sp.Name == "plain" {
		t.Errorf("/etc/hosts after the IP changed:\n%s", b)
	}
}

func TestHostsFileSurvivesAFullDisk(t *testing.T) {
	needRoot(t)
	f := newFS(t)
	if err := os.MkdirAll(f.Node.RootDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", f.Node.RootDir, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(f.Node.RootDir, unix.MNT_DETACH) })
	sp, c := loadPod(t, plainPod)
	mounts, err := f.PrepareMounts(sp, c, 0, "10.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	file := mountAt(t, mounts, "/etc/hosts").HostPath
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Fill the disk, then ask for a bigger file than the old one.
	filler, err := os.Create(filepath.Join(f.Node.RootDir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := filler.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	filler.Close()
	for i := range 300 {
		sp.Pod.Spec.HostAliases = append(sp.Pod.Spec.HostAliases, corev1.HostAlias{IP: "10.9.0.1", Hostnames: []string{fmt.Sprintf("host%d.example", i)}})
	}
	if _, err := f.PrepareMounts(sp, c, 1, "10.0.0.2"); err == nil {
		t.Fatal("writing /etc/hosts on a full disk did not fail")
	}
	if after, err := os.ReadFile(file); err != nil || string(after) != string(before) {
		t.Errorf("/etc/hosts after a failed write on a full disk is %d bytes (%v), want the old %d", len(after), err, len(before))
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".etc-hosts") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestHostsFileTruncatedToATerabyteIsReplacedWithoutBeingRead(t *testing.T) {
	f := newFS(t)
	sp, c := loadPod(t, plainPod)
	mounts, err := f.PrepareMounts(sp, c, 0, "10.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	file := mountAt(t, mounts, "/etc/hosts").HostPath
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// What `truncate -s 1T /etc/hosts` in a container does to the file.
	if err := os.Truncate(file, 1<<40); err != nil {
		t.Fatal(err)
	}
	if n := allocated(func() {
		if _, err := f.PrepareMounts(sp, c, 1, "10.0.0.2"); err != nil {
			t.Fatal(err)
		}
	}); n > 1<<20 {
		t.Errorf("the restart allocated %d bytes", n)
	}
	if got, err := os.ReadFile(file); err != nil || string(got) != string(want) {
		t.Errorf("/etc/hosts after the restart is %d bytes (%v), want a fresh file", len(got), err)
	}
	// Same size, other content: rewritten too.
	if err := os.WriteFile(file, []byte(strings.Repeat("#", len(want))), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.PrepareMounts(sp, c, 2, "10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file); string(got) != string(want) {
		t.Errorf("/etc/hosts of the same size was not rewritten:\n%s", got)
	}
}

func TestHostsOfTheHostAreReadUpToTheBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	line := "10.0.0.1\tsome-host\n"
	if err := os.WriteFile(path, []byte(strings.Repeat(line, 2*maxHostHosts/len(line))), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readHostHosts(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > maxHostHosts || len(got) < maxHostHosts-len(line) || !strings.HasSuffix(string(got), line) {
		t.Errorf("read %d bytes ending %q, want at most %d in whole lines", len(got), got[max(len(got)-20, 0):], maxHostHosts)
	}
}
