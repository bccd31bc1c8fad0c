package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
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
	if err != nil || !strings.Contains(out, "-pod-manifest-path") || !strings.Contains(out, "Examples:") {
		t.Errorf("run --help: %v\n%s", err, out)
	}
	if _, _, err := runCLI("run", "--log-format", "xml", "--root-dir", t.TempDir(), "--pod-logs-dir", t.TempDir()); err == nil || exitCode(err) != 2 {
		t.Errorf("bad log format: %v", err)
	}
	if _, errOut, err := runCLI("run", "--no-such-flag"); err == nil || exitCode(err) != 2 || !strings.Contains(errOut, "bosun run --help") {
		t.Errorf("unknown flag: %v %q", err, errOut)
	}
}

func TestConfigFileFillsFlagsNotGiven(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "kubelet.yaml")
	if err := os.WriteFile(cfg, []byte(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: /from/config/manifests
podLogsDir: /from/config/logs
fileCheckFrequency: 7s
syncFrequency: 2m
containerLogMaxFiles: 3
cgroupDriver: systemd
healthzBindAddress: 127.0.0.1
healthzPort: 10300
crashLoopBackOff: {maxContainerRestartPeriod: 5s}
rotateCertificates: true
staticPodURL: ""
serverTLSBootstrap: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	f := daemonFlags{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	for _, sec := range f.sections() {
		fs.AddFlagSet(sec.flags)
	}
	if err := fs.Parse([]string{"--config", cfg, "--pod-logs-dir", "/from/flag/logs"}); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(fs, &f); err != nil {
		t.Fatal(err)
	}
	if f.manifestPath != "/from/config/manifests" || f.podLogsDir != "/from/flag/logs" || f.fileCheck != 7*time.Second ||
		f.syncFrequency != 2*time.Minute || f.logMaxFiles != 3 || f.cgroupDriver != "systemd" {
		t.Errorf("flags after --config: %+v (the command line must win)", f)
	}
	if f.healthzAddr != "127.0.0.1:10300" || f.backoffMax != 5*time.Second || f.backoffInitial != 5*time.Second ||
		strings.Join(f.configIgnored, ",") != "serverTLSBootstrap" || !f.api.rotateCertificates {
		t.Errorf("healthz %q, backoff %v..%v, ignored %v, rotate certificates %v: want the file's healthz address, backoff maximum (the start no larger) and rotateCertificates",
			f.healthzAddr, f.backoffInitial, f.backoffMax, f.configIgnored, f.api.rotateCertificates)
	}

	// The flag wins over the file's healthz address.
	if err := fs.Parse([]string{"--config", cfg, "--healthz-bind-address", "127.0.0.1:10555"}); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(fs, &f); err != nil || f.healthzAddr != "127.0.0.1:10555" {
		t.Errorf("--healthz-bind-address with --config: %q, %v", f.healthzAddr, err)
	}
}

func TestProfilingNeedsLoopbackOrConsent(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:10290", ":10290", "192.0.2.1:10290"} {
		_, _, err := runCLI("run", "--profiling", "--metrics-bind-address", addr,
			"--root-dir", t.TempDir(), "--pod-logs-dir", t.TempDir(), "--container-runtime-endpoint", "unix:///nonexistent/cri.sock")
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--allow-remote-profiling") {
			t.Errorf("--profiling on %s: %v, want a usage error naming --allow-remote-profiling", addr, err)
		}
	}
}

func TestNodeIPMustBeAnIP(t *testing.T) {
	_, _, err := runCLI("run", "--node-ip", "node1.example", "--root-dir", t.TempDir(), "--pod-logs-dir", t.TempDir())
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `--node-ip "node1.example": not an IP address`) {
		t.Errorf("--node-ip of a name: %v", err)
	}
}
