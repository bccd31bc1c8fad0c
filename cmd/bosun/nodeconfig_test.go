package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// parseRun parses args as bosun run's flags, applies --config and parses
// the result.
func parseRun(t *testing.T, args ...string) (*daemonFlags, parsedFlags, error) {
	t.Helper()
	f := &daemonFlags{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	for _, sec := range f.sections() {
		fs.AddFlagSet(sec.flags)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(fs, f); err != nil {
		return f, parsedFlags{}, err
	}
	p, err := f.parse()
	return f, p, err
}

func TestConfigNodeFieldsReachTheirFlags(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "kubelet.yaml")
	if err := os.WriteFile(cfg, []byte(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
podPidsLimit: 4096
cpuCFSQuota: false
cpuCFSQuotaPeriod: 50ms
serializeImagePulls: true
runtimeRequestTimeout: 5m
seccompDefault: false
allowedUnsafeSysctls: [net.core.somaxconn]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, p, err := parseRun(t, "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f.podPidsLimit != 4096 || f.cpuCFSQuota || f.cpuCFSQuotaPeriod != 50*time.Millisecond || p.maxParallelImagePulls != 1 ||
		f.runtimeRequestTimeout != 5*time.Minute || f.seccompDefault || strings.Join(f.allowedUnsafeSysctls, ",") != "net.core.somaxconn" ||
		len(f.configIgnored) != 0 {
		t.Errorf("flags after --config: %+v, parsed %+v", f, p)
	}
	// Flags win.
	f, p, err = parseRun(t, "--config", cfg, "--seccomp-default", "--serialize-image-pulls=false", "--max-parallel-image-pulls", "3")
	if err != nil || !f.seccompDefault || p.maxParallelImagePulls != 3 {
		t.Errorf("flags over --config: seccomp %v, pulls %d, %v", f.seccompDefault, p.maxParallelImagePulls, err)
	}
	// Without either, bosun's defaults: RuntimeDefault, parallel pulls.
	f, p, err = parseRun(t)
	if err != nil || !f.seccompDefault || p.maxParallelImagePulls != 0 || !f.cpuCFSQuota || f.podPidsLimit != -1 {
		t.Errorf("defaults: %+v %+v %v", f, p, err)
	}
}

func TestNodeFlagsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--container-runtime-endpoint", "unix:///run/containerd/containerd.sock", "--image-service-endpoint", "unix:///run/other.sock"},
			"--image-service-endpoint unix:///run/other.sock: bosun talks to one runtime socket"},
		{[]string{"--allowed-unsafe-sysctls", "vm.swappiness"}, `--allowed-unsafe-sysctls: the sysctl "vm.swappiness" is not known to be namespaced`},
		{[]string{"--serialize-image-pulls", "--max-parallel-image-pulls", "2"}, "needs --serialize-image-pulls=false"},
		{[]string{"--cpu-cfs-quota-period", "2s"}, "must be between 1ms and 1s"},
	} {
		if _, _, err := parseRun(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	// The same socket, written either way, is accepted.
	if _, _, err := parseRun(t, "--container-runtime-endpoint", "unix:///run/containerd/containerd.sock", "--image-service-endpoint", "/run/containerd/containerd.sock"); err != nil {
		t.Errorf("the runtime's own socket as image service: %v", err)
	}
}
