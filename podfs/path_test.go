package podfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPathsStayBelowTheirBase(t *testing.T) {
	base := t.TempDir()
	outside := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"out": outside, "up": "../" + filepath.Base(outside), "abs-in": filepath.Join(base, "sub"), "in": "sub"} {
		if err := os.Symlink(target, filepath.Join(base, name)); err != nil {
			t.Fatal(err)
		}
	}
	long := strings.Repeat("a", 256)
	for _, tc := range []struct {
		rel string
		// lexical is Join's error, resolved MkdirAll's for what Join accepts.
		lexical, resolved string
	}{
		{rel: "pod1"},
		{rel: "a/b/c"},
		{rel: "in/x"},
		{rel: "", lexical: "empty"},
		{rel: ".", lexical: "empty"},
		{rel: "..", lexical: "'..'"},
		{rel: "a/../../x", lexical: "'..'"},
		{rel: "a/..", lexical: "'..'"},
		{rel: "/etc", lexical: "absolute"},
		{rel: "a\x00b", lexical: "NUL"},
		{rel: long, lexical: "longer than 255"},
		{rel: strings.Repeat("a/", 2100), lexical: "longer than 4095"},
		{rel: "out/x", resolved: "outside"},
		{rel: "up/x", resolved: "outside"},
		{rel: "abs-in/x", resolved: "outside"},
	} {
		p, err := Join(base, tc.rel)
		if tc.lexical != "" {
			if err == nil || !strings.Contains(err.Error(), tc.lexical) {
				t.Errorf("Join(%q): %q, %v; want an error with %q", tc.rel, p, err, tc.lexical)
			}
			continue
		}
		if err != nil || !strings.HasPrefix(p, base+"/") {
			t.Errorf("Join(%q): %q, %v; want a path below the base", tc.rel, p, err)
			continue
		}
		err = MkdirAll(base, tc.rel, 0o755)
		if (tc.resolved == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.resolved)) {
			t.Errorf("MkdirAll(%q): %v, want %q", tc.rel, err, tc.resolved)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("something was created outside the base: %v", entries)
	}
}

func TestComponent(t *testing.T) {
	for name, ok := range map[string]bool{
		"3f8c2a4e-0d1b-4c55-9a7e-1c2d3e4f5a6b": true, "etcd": true,
		"": false, ".": false, "..": false, "a/b": false, "/": false, "a\x00": false, strings.Repeat("x", 256): false,
	} {
		if err := Component(name); (err == nil) != ok {
			t.Errorf("Component(%q): %v, want ok=%v", name, err, ok)
		}
	}
}

func TestRemovePodDirStaysInPods(t *testing.T) {
	f := newFS(t)
	keep := filepath.Join(f.Node.RootDir, "keep")
	if err := os.MkdirAll(keep, 0o755); err != nil {
		t.Fatal(err)
	}
	pods := filepath.Join(f.Node.RootDir, "pods")
	if err := os.MkdirAll(filepath.Join(pods, "p1", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"..", "../..", "", ".", "p1/x", "/", "p1/.."} {
		if err := f.RemovePodDir(uid); err == nil {
			t.Errorf("RemovePodDir(%q) did not refuse", uid)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("removing a pod directory removed %s: %v", keep, err)
	}
	if _, err := os.Stat(filepath.Join(pods, "p1", "x")); err != nil {
		t.Errorf("p1/x was removed: %v", err)
	}
	if err := f.RemovePodDir("p1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(pods, "p1")); !os.IsNotExist(err) {
		t.Errorf("p1 was not removed: %v", err)
	}
	// A pods directory that is a link elsewhere is not followed either.
	if err := os.RemoveAll(pods); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(f.Node.RootDir, pods); err != nil {
		t.Fatal(err)
	}
	if err := f.RemovePodDir("keep"); err == nil {
		t.Error("RemovePodDir followed a pods directory that is a link")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("%s was removed through a link: %v", keep, err)
	}
}

// FuzzJoin checks that whatever Join accepts is below its base, clean and
// free of NUL. The seed corpus is in testdata/fuzz/FuzzJoin.
func FuzzJoin(f *testing.F) {
	for _, s := range []string{"pod", "a/b", "..", "/abs", "a/../b", "a\x00b", "./a", "a//b/"} {
		f.Add(s)
	}
	const base = "/var/lib/bosun/pods"
	f.Fuzz(func(t *testing.T, rel string) {
		p, err := Join(base, rel)
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, base+"/") || filepath.Clean(p) != p || strings.ContainsRune(p, 0) || len(p) > 4095 {
			t.Fatalf("Join(%q) = %q", rel, p)
		}
		for _, part := range strings.Split(rel, "/") {
			if part == ".." {
				t.Fatalf("Join(%q) accepted '..'", rel)
			}
		}
	})
}
