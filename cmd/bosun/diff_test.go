package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bosun-sh/bosun/manifest"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/proto/server"
	"github.com/bosun-sh/bosun/sync"
)

func TestUnifiedDiff(t *testing.T) {
	lines := func(n int, change map[int]string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			if c, ok := change[i]; ok {
				b.WriteString(c)
			} else {
				b.WriteString("l" + string(rune('a'+i-1)))
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, a, b, want string
	}{
		{"equal", "x\ny\n", "x\ny\n", ""},
		{"one line changed", lines(10, nil), lines(10, map[int]string{5: "NEW"}),
			"--- a\n+++ b\n@@ -2,7 +2,7 @@\n lb\n lc\n ld\n-le\n+NEW\n lf\n lg\n lh\n"},
		{"two hunks", lines(20, nil), lines(20, map[int]string{2: "X", 18: "Y"}),
			"--- a\n+++ b\n@@ -1,5 +1,5 @@\n la\n-lb\n+X\n lc\n ld\n le\n@@ -15,6 +15,6 @@\n lo\n lp\n lq\n-lr\n+Y\n ls\n lt\n"},
		{"close changes share a hunk", lines(12, nil), lines(12, map[int]string{3: "X", 8: "Y"}),
			"--- a\n+++ b\n@@ -1,11 +1,11 @@\n la\n lb\n-lc\n+X\n ld\n le\n lf\n lg\n-lh\n+Y\n li\n lj\n lk\n"},
		{"added at the end", "a\n", "a\nb\n", "--- a\n+++ b\n@@ -1 +1,2 @@\n a\n+b\n"},
		{"from nothing", "", "a\n", "--- a\n+++ b\n@@ -0,0 +1 @@\n+a\n"},
	} {
		if got := unifiedDiff("a", "b", tc.a, tc.b); got != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, got, tc.want)
		}
	}
}

const diffPod = `apiVersion: v1
kind: Pod
metadata:
  name: NAME
spec:
  containers:
  - name: main
    image: IMAGE
`

// serveDiff serves a running state on a real socket, with the manifest
// directory dir, as the daemon would.
func serveDiff(t *testing.T, dir string, pods []sync.PodStatus) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "bosun.sock")
	l, err := server.Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st := &fakeState{history: sync.NewHistory(), pods: pods}
	go func() { _ = server.Serve(ctx, l, server.New(st, &bosunv1.Info{Node: "n1", ManifestDir: dir})) }()
	return sock
}

func writeManifest(t *testing.T, dir, file, name, image string) *manifest.StaticPod {
	t.Helper()
	y := strings.NewReplacer("NAME", name, "IMAGE", image).Replace(diffPod)
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := manifest.Load(p, []byte(y), "n1")
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func runningAs(t *testing.T, sp *manifest.StaticPod, withSpec bool) sync.PodStatus {
	t.Helper()
	p := sync.PodStatus{Namespace: sp.Namespace, Name: sp.Name, File: sp.File, RunningHash: sp.Hash, SandboxID: "s"}
	if withSpec {
		b, err := json.Marshal(sp.Pod.Spec)
		if err != nil {
			t.Fatal(err)
		}
		p.RunningSpec = string(b)
	}
	return p
}

func TestDiffGolden(t *testing.T) {
	dir := t.TempDir()
	oldWeb := writeManifest(t, dir, "web.yaml", "web", "busybox:1.36")
	oldAPI := writeManifest(t, dir, "api.yaml", "api", "busybox:1.36")
	gone := writeManifest(t, dir, "old.yaml", "old", "busybox:1.36")
	keep := writeManifest(t, dir, "keep.yaml", "keep", "busybox:1.36")
	broken := writeManifest(t, dir, "broken.yaml", "broken", "busybox:1.36")
	running := []sync.PodStatus{runningAs(t, oldWeb, true), runningAs(t, oldAPI, false), runningAs(t, gone, true),
		runningAs(t, keep, true), runningAs(t, broken, true)}
	sock := serveDiff(t, dir, running)

	out, errOut, err := runCLI("diff", "--api-socket", sock)
	if err != nil || out != "no changes\n" {
		t.Fatalf("unchanged: %q %q %v, want no changes and exit 0", out, errOut, err)
	}

	writeManifest(t, dir, "web.yaml", "web", "busybox:1.37")
	writeManifest(t, dir, "api.yaml", "api", "busybox:1.37")
	writeManifest(t, dir, "db.yaml", "db", "busybox:1.36")
	if err := os.Remove(gone.File); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken.File, []byte("kind: Pod\nspec: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI("diff", "--api-socket", sock, dir)
	if err == nil || exitCode(err) != 1 {
		t.Errorf("changes: exit %v, want 1", err)
	}
	golden(t, "diff.golden", strings.ReplaceAll(out, dir, "DIR"))

	if _, _, err := runCLI("diff", "--api-socket", sock, "a", "b"); err == nil || exitCode(err) != 2 {
		t.Errorf("two dirs: %v, want a usage error", err)
	}
}
