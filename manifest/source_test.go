package manifest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func newTestSource(t *testing.T) (*Source, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "manifests")
	mkdir(t, dir, 0o700)
	return NewSource(SourceConfig{Path: dir, Node: testNode}), dir
}

// mkdir makes dir with exactly mode (the umask and os.Mkdir drop the
// sticky and group/other write bits).
func mkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// scanOnce scans a new Source of cfg once and returns its snapshot.
func scanOnce(cfg SourceConfig) Snapshot {
	s := NewSource(cfg)
	s.Scan()
	return s.Snapshot()
}

func podNames(s Snapshot) []string {
	var out []string
	for _, p := range s.Pods {
		out = append(out, p.Name)
	}
	return out
}

func TestSourceReadsOnlyManifestNames(t *testing.T) {
	s, dir := newTestSource(t)
	writeFile(t, filepath.Join(dir, "a.yaml"), base, 0o600)
	clean := strings.NewReplacer(".", "", "~", "", "-", "")
	for _, name := range []string{".hidden.yaml", "a.yaml~", "a.yaml.bak", "a.yaml.swp", "a.yaml.dpkg-old", "notes.txt", "b.yml", "kube-apiserver.manifest", "c.json"} {
		writeFile(t, filepath.Join(dir, name), strings.Replace(base, "name: p", "name: "+clean.Replace(name), 1), 0o600)
	}
	mkdir(t, filepath.Join(dir, "sub"), 0o700)
	writeFile(t, filepath.Join(dir, "sub", "c.yaml"), strings.Replace(base, "name: p", "name: c", 1), 0o600)
	s.Scan()
	snap := s.Snapshot()
	if got := strings.Join(podNames(snap), ","); got != "p-node1,byml-node1,cjson-node1,kubeapiservermanifest-node1" || !snap.Available || len(snap.Errors) != 0 {
		t.Errorf("pods %s, available %v, errors %v; want a, b, c and kube-apiserver only", got, snap.Available, snap.Errors)
	}
	want := map[string]string{
		".hidden.yaml":    "hidden (the name starts with a dot)",
		"a.yaml~":         "an editor or package manager leftover (*~)",
		"a.yaml.bak":      "an editor or package manager leftover (*.bak)",
		"a.yaml.swp":      "an editor or package manager leftover (*.swp)",
		"a.yaml.dpkg-old": "an editor or package manager leftover (*.dpkg-*)",
		"notes.txt":       "not a manifest name (*.yaml, *.yml, *.json, *.manifest)",
		"sub":             "a directory (subdirectories are not read)",
	}
	for name, why := range want {
		if got := snap.Ignored[filepath.Join(dir, name)]; got != why {
			t.Errorf("%s: ignored as %q, want %q", name, got, why)
		}
	}
	if len(snap.Ignored) != len(want) {
		t.Errorf("ignored %v, want exactly %d entries", snap.Ignored, len(want))
	}
}

func TestIgnoredReason(t *testing.T) {
	for name, read := range map[string]bool{
		"etcd.yaml": true, "etcd.yml": true, "etcd.json": true, "kube-apiserver.manifest": true, "etcd-manager-main.manifest": true,
		"etcd.yaml~": false, "etcd.yaml.bak": false, "etcd.yaml.swp": false, "etcd.yaml.swx": false, "etcd.yaml.orig": false,
		"etcd.yaml.rej": false, "etcd.yaml.tmp": false, "etcd.yaml.dpkg-new": false, "etcd.yaml.dpkg-dist": false,
		"etcd.yaml.rpmnew": false, "etcd.yaml.rpmsave": false, "etcd.yaml.ucf-old": false, ".etcd.yaml": false,
		"#etcd.yaml#": false, "etcd": false, "etcd.conf": false, "README": false,
	} {
		if got := IgnoredReason(name, false) == ""; got != read {
			t.Errorf("%s: read %v, want %v", name, got, read)
		}
	}
	if IgnoredReason("pods.yaml", true) == "" {
		t.Error("a directory named pods.yaml is read")
	}
}

// newFileSource returns a Source of the single file dir/name and a channel
// that receives after each change.
func newFileSource(t *testing.T, name string) (*Source, string, <-chan struct{}) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "m")
	mkdir(t, dir, 0o700)
	path := filepath.Join(dir, name)
	writeFile(t, path, base, 0o600)
	notified := make(chan struct{}, 16)
	// A path as a user may write it: the source compares it with event names.
	s := NewSource(SourceConfig{Path: dir + "//" + name, Node: testNode, Period: time.Hour, Settle: 10 * time.Millisecond,
		Notify: func() { notified <- struct{}{} }})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = s.Run(ctx) }()
	<-notified // the first scan
	return s, path, notified
}

func waitNotified(t *testing.T, notified <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-notified:
	case <-time.After(10 * time.Second):
		t.Fatalf("no notification after %s", what)
	}
}

func TestSingleFileSourceFollowsRenameOverAndDelete(t *testing.T) {
	// A single file is read whatever its name; its neighbours are not.
	s, path, notified := newFileSource(t, "pod.conf")
	if snap := s.Snapshot(); !snap.Available || len(snap.Pods) != 1 || snap.Pods[0].File != path || len(snap.Ignored) != 0 {
		t.Fatalf("available %v pods %v ignored %v; want the file's pod", snap.Available, podNames(snap), snap.Ignored)
	}
	writeFile(t, filepath.Join(filepath.Dir(path), "other.yaml"), strings.Replace(base, "name: p", "name: other", 1), 0o600)

	// A new version renamed over the file.
	tmp := filepath.Join(filepath.Dir(path), ".pod.conf.tmp")
	writeFile(t, tmp, strings.Replace(base, "name: p", "name: q", 1), 0o600)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitNotified(t, notified, "a rename over the file")
	if got := podNames(s.Snapshot()); len(got) != 1 || got[0] != "q-node1" {
		t.Fatalf("pods %v after the rename, want q only", got)
	}

	// Deleting the file deletes its pod; the source stays available.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitNotified(t, notified, "the file was deleted")
	if snap := s.Snapshot(); !snap.Available || len(snap.Pods) != 0 {
		t.Errorf("available %v pods %v after delete, want available and none", snap.Available, podNames(snap))
	}
}

func TestSingleFileSourceChecksItsDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	mkdir(t, dir, 0o777)
	path := filepath.Join(dir, "p.yaml")
	writeFile(t, path, base, 0o600)
	if snap := scanOnce(SourceConfig{Path: path, Node: testNode}); snap.Available || snap.Err == nil || !strings.Contains(snap.Err.Error(), "mode 0777 is writable") {
		t.Errorf("available %v err %v; want the world-writable directory refused", snap.Available, snap.Err)
	}
}

func TestSourceKeepsLastGoodVersionOfABrokenFile(t *testing.T) {
	s, dir := newTestSource(t)
	f := filepath.Join(dir, "p.yaml")
	writeFile(t, f, base, 0o600)
	s.Scan()
	good := s.Snapshot().Pods[0]
	writeFile(t, f, base+"  bogus: 1\n", 0o600)
	s.Scan()
	snap := s.Snapshot()
	if len(snap.Pods) != 1 || snap.Pods[0] != good {
		t.Fatalf("pods %v, want the last good version", podNames(snap))
	}
	if err := snap.Errors[f]; err == nil || !strings.Contains(err.Error(), "line 10: spec.bogus: unknown field") {
		t.Errorf("error = %v", err)
	}
	writeFile(t, f, "", 0o600) // truncated by an editor
	s.Scan()
	if snap := s.Snapshot(); len(snap.Pods) != 1 || !strings.Contains(snap.Errors[f].Error(), "file is empty") {
		t.Errorf("after truncation: pods %v errors %v", podNames(snap), snap.Errors)
	}
	os.Remove(f)
	s.Scan()
	if snap := s.Snapshot(); len(snap.Pods)+len(snap.Errors) != 0 {
		t.Errorf("after delete: pods %v errors %v", podNames(snap), snap.Errors)
	}
}

func TestSourceMissingDirectoryIsUnavailableAndKeepsPods(t *testing.T) {
	s, dir := newTestSource(t)
	writeFile(t, filepath.Join(dir, "p.yaml"), base, 0o600)
	s.Scan()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	s.Scan()
	snap := s.Snapshot()
	if snap.Available || snap.Err == nil || len(snap.Pods) != 1 {
		t.Errorf("available %v err %v pods %v; want unavailable with the pods kept", snap.Available, snap.Err, podNames(snap))
	}
}

func TestSourceRefusesUnsafeFiles(t *testing.T) {
	s, dir := newTestSource(t)
	writeFile(t, filepath.Join(dir, "open.yaml"), base, 0o664)
	target := filepath.Join(t.TempDir(), "t.yaml")
	writeFile(t, target, base, 0o600)
	if err := os.Symlink(target, filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Scan(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a FIFO blocked the scan")
	}
	snap := s.Snapshot()
	want := map[string]string{
		"open.yaml": "mode 0664 is writable by group or others",
		"link.yaml": "is a symbolic link; refused without --allow-symlinks",
		"fifo.yaml": "not a regular file",
	}
	for name, msg := range want {
		err := snap.Errors[filepath.Join(dir, name)]
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want it to name the file and say %q", name, err, msg)
		}
	}
	if len(snap.Pods) != 0 {
		t.Errorf("pods %v from unsafe files", podNames(snap))
	}
}

func TestSourceWatchNotifiesOnChange(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	mkdir(t, dir, 0o700)
	notified := make(chan struct{}, 16)
	s := NewSource(SourceConfig{Path: dir, Node: testNode, Period: time.Hour, Settle: 10 * time.Millisecond,
		Notify: func() { notified <- struct{}{} }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	<-notified // the first scan
	writeFile(t, filepath.Join(dir, "p.yaml"), base, 0o600)
	select {
	case <-notified:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification after a file was written")
	}
	if got := podNames(s.Snapshot()); len(got) != 1 {
		t.Errorf("pods %v", got)
	}
}

func TestSourceReadsAFileWrittenInChunksOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	mkdir(t, dir, 0o700)
	f := filepath.Join(dir, "p.yaml")
	writeFile(t, f, base, 0o600)
	var seen []string
	notified := make(chan struct{}, 16)
	var s *Source
	s = NewSource(SourceConfig{Path: dir, Node: testNode, Period: time.Hour, Notify: func() {
		snap := s.Snapshot()
		if len(snap.Pods) == 1 {
			seen = append(seen, snap.Pods[0].Hash)
		}
		notified <- struct{}{}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	<-notified

	// Truncate, then write in chunks: the first chunk alone is a valid pod.
	final := base + "  - name: side\n    image: busybox:1.36\n"
	w, err := os.OpenFile(f, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []string{base, "  - name: side\n", "    image: busybox:1.36\n"} {
		if _, err := w.WriteString(chunk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.Close()
	select {
	case <-notified:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification after the write")
	}
	want := mustLoad(t, final, testNode).Hash
	if len(seen) != 2 || seen[1] != want {
		t.Errorf("versions seen %v, want the old one and then only the final %s", seen, want)
	}
}

func TestSymlinksWithAllowSymlinks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	mkdir(t, dir, 0o700)
	// Link targets outside the manifest directory need safe directories up
	// to /, which the sticky /tmp of t.TempDir is not.
	targets := filepath.Join(safeTempDir(t), "targets")
	mkdir(t, targets, 0o700)
	writeFile(t, filepath.Join(targets, "good.yaml"), base, 0o600)
	writeFile(t, filepath.Join(targets, "open.yaml"), strings.Replace(base, "name: p", "name: o", 1), 0o666)
	for link, target := range map[string]string{"good.yaml": "good.yaml", "open.yaml": "open.yaml", "dangling.yaml": "missing.yaml"} {
		if err := os.Symlink(filepath.Join(targets, target), filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	snap := scanOnce(SourceConfig{Path: dir, Node: testNode, AllowSymlinks: true})
	if got := podNames(snap); len(got) != 1 || got[0] != "p-node1" {
		t.Errorf("pods %v, want only the good link's", got)
	}
	for link, msg := range map[string]string{"open.yaml": "mode 0666 is writable", "dangling.yaml": "symbolic link to " + filepath.Join(targets, "missing.yaml") + ": no such file"} {
		if err := snap.Errors[filepath.Join(dir, link)]; err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", link, err, msg)
		}
	}
}

// safeTempDir returns a new directory below the package's own directory,
// for link targets that need every directory up to / to be safe. It skips
// the test when the checkout itself is not in such a place.
func safeTempDir(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		fi, err := os.Lstat(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkOwner(fi); err != nil {
			t.Skipf("the checkout is below an unsafe directory: %s: %v", d, err)
		}
		if d == "/" {
			break
		}
	}
	dir, err := os.MkdirTemp(wd, "_tmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestSymlinkTargetsNeedSafeDirectoriesUpToRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	mkdir(t, dir, 0o700)
	root := safeTempDir(t)
	// Each target sits in a safe 0700 directory; what differs is its parent.
	for name, mode := range map[string]os.FileMode{"ok": 0o755, "open": 0o777, "group": 0o775, "sticky": 0o777 | os.ModeSticky} {
		parent := filepath.Join(root, name)
		mkdir(t, parent, mode)
		mkdir(t, filepath.Join(parent, "safe"), 0o700)
		writeFile(t, filepath.Join(parent, "safe", "t.yaml"), strings.Replace(base, "name: p", "name: "+name, 1), 0o600)
		if err := os.Symlink(filepath.Join(parent, "safe", "t.yaml"), filepath.Join(dir, name+".yaml")); err != nil {
			t.Fatal(err)
		}
	}
	snap := scanOnce(SourceConfig{Path: dir, Node: testNode, AllowSymlinks: true})
	if got := podNames(snap); len(got) != 1 || got[0] != "ok-node1" {
		t.Errorf("pods %v, want only the one whose directories are safe", got)
	}
	for name, mode := range map[string]string{"open": "0777", "group": "0775", "sticky": "1777"} {
		want := "directory " + filepath.Join(root, name) + ": mode " + mode + " is writable by group or others"
		if err := snap.Errors[filepath.Join(dir, name+".yaml")]; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
}

// TestReadFileNeverReturnsASwappedInFile renames a world-writable file and a
// safe one over the same name, over and over, while reading it: whatever
// ReadFile returns must be the safe file's content, because the checks are
// of the file it read, not of the name.
func TestReadFileNeverReturnsASwappedInFile(t *testing.T) {
	dir := t.TempDir()
	good, evil := filepath.Join(dir, "good"), filepath.Join(dir, "evil")
	writeFile(t, good, "good", 0o600)
	writeFile(t, evil, "evil", 0o666)
	name := filepath.Join(dir, "p.yaml")
	stop := make(chan struct{})
	swapped := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				swapped <- nil
				return
			default:
			}
			src := good
			if i%2 == 1 {
				src = evil
			}
			tmp := filepath.Join(dir, "tmp")
			if err := os.Link(src, tmp); err != nil {
				swapped <- err
				return
			}
			if err := os.Rename(tmp, name); err != nil {
				swapped <- err
				return
			}
		}
	}()
	reads := 0
	for range 5000 {
		data, err := ReadFile(name, false)
		if err == nil {
			reads++
			if string(data) != "good" {
				close(stop)
				t.Fatalf("ReadFile returned the world-writable file's content %q", data)
			}
		}
	}
	close(stop)
	if err := <-swapped; err != nil {
		t.Fatal(err)
	}
	if reads == 0 {
		t.Fatal("no read succeeded")
	}
}

func TestSourceRefusesBigAndForeignFiles(t *testing.T) {
	s, dir := newTestSource(t)
	writeFile(t, filepath.Join(dir, "big.yaml"), base+"# "+strings.Repeat("x", MaxSize)+"\n", 0o600)
	want := map[string]string{"big.yaml": "larger than the limit of 1048576; refused"}
	if os.Geteuid() == 0 {
		foreign := filepath.Join(dir, "foreign.yaml")
		writeFile(t, foreign, base, 0o600)
		if err := os.Chown(foreign, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		want["foreign.yaml"] = "owned by uid 65534, not root or bosun's uid 0 (mode 0600); refused"
	}
	s.Scan()
	snap := s.Snapshot()
	for name, msg := range want {
		if err := snap.Errors[filepath.Join(dir, name)]; err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", name, err, msg)
		}
	}
	if len(snap.Pods) != 0 {
		t.Errorf("pods %v", podNames(snap))
	}
}

func TestSourceRefusesAnUnsafeDirectory(t *testing.T) {
	s, dir := newTestSource(t)
	writeFile(t, filepath.Join(dir, "p.yaml"), base, 0o600)
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil { // newTestSource made it
		t.Fatal(err)
	}
	s.Scan()
	snap := s.Snapshot()
	want := "manifest directory " + dir + ": mode 1777 is writable by group or others"
	if snap.Available || snap.Err == nil || !strings.Contains(snap.Err.Error(), want) || len(snap.Pods) != 0 {
		t.Errorf("available %v err %v pods %v; want unavailable with %q", snap.Available, snap.Err, podNames(snap), want)
	}
}
