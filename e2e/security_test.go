package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostTargets are a file and a directory that the test owns on the host;
// a container plants links to them in its volumes, and they must stay as
// they were.
type hostTargets struct {
	file, dir string
}

const hostSecret = "root:secret\n"

func newHostTargets(t *testing.T) hostTargets {
	t.Helper()
	base := t.TempDir()
	h := hostTargets{file: filepath.Join(base, "shadow"), dir: filepath.Join(base, "etc")}
	if err := os.WriteFile(h.file, []byte(hostSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(h.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.dir, "host-only"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

// unchanged fails the test if the file or the directory changed, or if
// anything is mounted below the directory.
func (h hostTargets) unchanged(t *testing.T) {
	t.Helper()
	if b, err := os.ReadFile(h.file); err != nil || string(b) != hostSecret {
		t.Errorf("host file %s now reads %q (%v), want %q", h.file, b, err, hostSecret)
	}
	if fi, err := os.Stat(h.file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("host file %s now has mode %v (%v), want 0600", h.file, fi.Mode(), err)
	}
	entries, err := os.ReadDir(h.dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("host directory %s now holds %v (%v), want only host-only", h.dir, entries, err)
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(mi), " "+h.dir) {
		t.Errorf("something is mounted at or below %s", h.dir)
	}
}

func TestLinksPlantedInVolumesReachNothingOnTheHost(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	h := newHostTargets(t)
	// The first instance replaces what it can with links to the host
	// targets and exits; the second reads its downward API files.
	e.write("planter.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: planter
  labels: {app: planter}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: data, emptyDir: {}}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: nested/name, fieldRef: {fieldPath: metadata.name}}
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c"]
    args:
    - |
      if [ ! -e /data/planted ]; then
        touch /data/planted
        ln -s %[2]s /data/file-link
        ln -s %[3]s /data/dir-link
        ln -s / /data/root-link
        rm -rf /info/labels 2>/dev/null && ln -s %[2]s /info/labels && echo "planted /info/labels"
        rm -rf /info/nested 2>/dev/null && ln -s %[3]s /info/nested && echo "planted /info/nested"
        touch /info/x 2>/dev/null || echo "info read-only"
        exit 1
      fi
      echo "labels $(cat /info/labels) name $(cat /info/nested/name)"
      echo done
      sleep 3600
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: info, mountPath: /info}
`, busybox, h.file, h.dir))
	eventually(t, 2*time.Minute, "the restarted container reading its files, or a sync error", func() bool {
		return strings.Contains(e.logOf("planter", "main"), "done\n") || e.psPods()[e.podName("planter")].SyncError != ""
	})
	h.unchanged(t)
	if err := e.psPods()[e.podName("planter")].SyncError; err != "" {
		t.Fatalf("the pod did not restart: %s", err)
	}
	log := e.logOf("planter", "main")
	if want := fmt.Sprintf("labels app=\"planter\" name %s\n", e.podName("planter")); !strings.Contains(log, want) {
		t.Errorf("the restarted container does not read %q; its log:\n%s", want, log)
	}
	if p := e.psPods()[e.podName("planter")]; len(p.Containers) != 1 || p.Containers[0].RestartCount < 1 {
		t.Errorf("the container did not restart: %+v", p)
	}
	// The first instance's log shows it could not touch the downward API volume.
	first, err := os.ReadFile(filepath.Join(e.podLogDir("planter", podUID(t, e, "planter")), "main", "0.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(first), "info read-only") || strings.Contains(string(first), "planted /info") {
		t.Errorf("the downwardAPI volume was writable; the first instance's log:\n%s", first)
	}
}

func TestSubPathThroughAPlantedLinkIsRefused(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	h := newHostTargets(t)
	// The first instance makes its subPath a link to a host directory and
	// exits; a second instance must not see that directory.
	e.write("escaper.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: escaper
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: data, emptyDir: {}}
  containers:
  - name: main
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c"]
    args:
    - |
      if [ ! -e /data/planted ]; then
        touch /data/planted
        rm -rf /data/escape && ln -s %s /data/escape
        exit 1
      fi
      echo "sub holds: $(ls /sub)"
      sleep 3600
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: data, mountPath: /sub, subPath: escape}
`, busybox, h.dir))
	eventually(t, 2*time.Minute, "bosun refusing the subPath, or a second instance", func() bool {
		return e.psPods()[e.podName("escaper")].SyncError != "" || strings.Contains(e.logOf("escaper", "main"), "sub holds")
	})
	if log := e.logOf("escaper", "main"); strings.Contains(log, "host-only") {
		t.Errorf("a container saw the host directory through its subPath:\n%s", log)
	}
	if err := e.psPods()[e.podName("escaper")].SyncError; !strings.Contains(err, "leads outside the volume") {
		t.Errorf("bosun did not refuse the subPath; its sync error: %q", err)
	}
	if err := e.psPods()[e.podName("escaper")].SyncError; !strings.Contains(err, "subPath escape ") {
		t.Errorf("the refusal does not name the subPath: %q", err)
	}
	if events := e.cli("events"); !strings.Contains(events, "subPath escape leads outside the volume") {
		t.Errorf("bosun events do not show the refusal:\n%s", events)
	}
	h.unchanged(t)
}

// podUID is the UID bosun gave pod name, from its sandbox's labels.
func podUID(t *testing.T, e *env, name string) string {
	t.Helper()
	sb := e.pod(name).ready()
	if sb == nil {
		t.Fatalf("pod %s has no ready sandbox", name)
	}
	return sb.Metadata.Uid
}
