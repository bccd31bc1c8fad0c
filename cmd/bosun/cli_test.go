package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

const goodPod = `apiVersion: v1
kind: Pod
metadata:
  name: good
spec:
  containers:
  - name: main
    image: busybox:1.36
`

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte(goodPod), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(strings.Replace(goodPod, "image:", "imag:", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a manifest"), 0o600); err != nil {
		t.Fatal(err)
	}

	out, errOut, err := runCLI("validate", good)
	if err != nil || out != "" || errOut != "1 manifests valid\n" {
		t.Errorf("valid file: %q %q, %v", out, errOut, err)
	}
	out, errOut, err = runCLI("validate", "--node-name", "n1", dir)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("a bad file must fail with exit 1, got %v", err)
	}
	want := bad + ":8: spec.containers[0].imag: unknown field\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(errOut, "1 of 2 manifests have errors") {
		t.Errorf("stderr %q", errOut)
	}
	if _, _, err := runCLI("validate"); err == nil || exitCode(err) != 2 {
		t.Errorf("validate without arguments: %v, want a usage error", err)
	}

	// JSON for machines; a second file with the same pod is an error too.
	if err := os.WriteFile(bad, []byte(goodPod), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI("validate", "-o", "json", "--node-name", "n1", dir)
	if err == nil {
		t.Fatal("a duplicate pod must fail")
	}
	var got struct {
		Node  string
		Files []validateResult
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if got.Node != "n1" || len(got.Files) != 2 || !got.Files[0].Valid || got.Files[0].Pod != "default/good-n1" || got.Files[1].Valid ||
		got.Files[1].Problems[0].Message != "pod default/good-n1 is also defined by "+bad+"; bosun runs only one of them" {
		t.Errorf("json output %+v", got)
	}
}

func TestCommands(t *testing.T) {
	if out, _, err := runCLI("version"); err != nil || !strings.HasPrefix(out, "bosun ") {
		t.Errorf("version: %q %v", out, err)
	}
	if _, errOut, err := runCLI("frobnicate"); err == nil || exitCode(err) != 2 || !strings.Contains(errOut, "Usage:") {
		t.Errorf("unknown command: %v %q", err, errOut)
	}
	out, _, err := runCLI("run", "--help")
	if err != nil || !strings.Contains(out, "-pod-manifest-path") || !strings.Contains(out, "Example:") {
		t.Errorf("run --help: %v\n%s", err, out)
	}
	if _, _, err := runCLI("run", "--log-format", "xml", "--root-dir", t.TempDir(), "--pod-logs-dir", t.TempDir()); err == nil || exitCode(err) != 2 {
		t.Errorf("bad log format: %v", err)
	}
	if _, errOut, err := runCLI("run", "--no-such-flag"); err == nil || exitCode(err) != 2 || !strings.Contains(errOut, "bosun run --help") {
		t.Errorf("unknown flag: %v %q", err, errOut)
	}
}
