package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/bosun-sh/bosun/imagegc"
)

func TestImageGCPolicyComesFromTheConfigFileUnlessAFlagIsGiven(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
imageGCHighThresholdPercent: 90
imageGCLowThresholdPercent: 70
imageMinimumGCAge: 0s
imageMaximumGCAge: 168h
`), 0o600); err != nil {
		t.Fatal(err)
	}
	f := daemonFlags{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	for _, sec := range f.sections() {
		fs.AddFlagSet(sec.flags)
	}
	if err := fs.Parse([]string{"--config", cfg, "--image-gc-low-threshold", "60"}); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(fs, &f); err != nil {
		t.Fatal(err)
	}
	want := imagegc.Policy{HighThresholdPercent: 90, LowThresholdPercent: 60, MinAge: 2 * time.Minute, MaxAge: 168 * time.Hour}
	if f.imageGC != want || len(f.configIgnored) != 0 {
		t.Errorf("policy %+v (ignored %v), want %+v", f.imageGC, f.configIgnored, want)
	}
}

func TestImageGCThresholdsOutOfOrderAreAUsageError(t *testing.T) {
	_, _, err := runCLI("run", "--image-gc-high-threshold", "70", "--image-gc-low-threshold", "80",
		"--root-dir", t.TempDir(), "--pod-logs-dir", t.TempDir(), "--container-runtime-endpoint", "unix:///nonexistent/cri.sock")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "imageGCLowThresholdPercent 80: must be less than imageGCHighThresholdPercent 70") {
		t.Errorf("low above high: %v", err)
	}
}
