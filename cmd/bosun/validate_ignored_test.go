package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateReadsManifestFilesAndListsIgnoredOnes(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"kube-apiserver.manifest": goodPod,
		"good.yaml.bak":           strings.Replace(goodPod, "image:", "imag:", 1),
		"notes.txt":               "not a manifest",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, err := runCLI("validate", "--node-name", "n1", dir)
	if err != nil || out != "" {
		t.Fatalf("validate: %v, stdout %q, stderr %q", err, out, errOut)
	}
	want := "ignored " + filepath.Join(dir, "good.yaml.bak") + ": an editor or package manager leftover (*.bak)\n" +
		"ignored " + filepath.Join(dir, "notes.txt") + ": not a manifest name (*.yaml, *.yml, *.json, *.manifest)\n" +
		"1 manifests valid\n"
	if errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}
	out, _, err = runCLI("validate", "-o", "json", "--node-name", "n1", dir)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Files   []validateResult
		Ignored []ignoredOutput
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(got.Files) != 1 || got.Files[0].Pod != "default/good-n1" || len(got.Ignored) != 2 || got.Ignored[0].Reason != "an editor or package manager leftover (*.bak)" {
		t.Errorf("json output %+v", got)
	}
}

func TestValidateRefusesAUIDThatIsAPath(t *testing.T) {
	f := filepath.Join(t.TempDir(), "escape.yaml")
	if err := os.WriteFile(f, []byte(strings.Replace(goodPod, "  name: good\n", "  name: good\n  uid: ../../../..\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI("validate", f)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("validate: %v, want exit 1", err)
	}
	if want := f + `:5: metadata.uid: "../../../..": must be a UUID or a DNS-1123 label`; !strings.HasPrefix(out, want) {
		t.Errorf("output %q, want it to start with %q", out, want)
	}
}

func TestValidateRefusesASecondPodWithTheSameUID(t *testing.T) {
	dir := t.TempDir()
	const uid = "0b7f2d3c-6a1e-4c55-9d8e-2f1a3b4c5d6e"
	first, second := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	for f, name := range map[string]string{first: "one", second: "two"} {
		pod := strings.Replace(goodPod, "  name: good\n", "  name: "+name+"\n  uid: "+uid+"\n", 1)
		if err := os.WriteFile(f, []byte(pod), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, err := runCLI("validate", "--node-name", "n1", dir)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("validate: %v, want exit 1", err)
	}
	want := second + ": metadata.uid: " + uid + " of pod default/two-n1 is also the uid of pod default/one-n1 in " + first + "; bosun runs only one of them\n"
	if out != want || errOut != "1 of 2 manifests have errors\n" {
		t.Errorf("stdout %q, stderr %q; want stdout %q", out, errOut, want)
	}
}
