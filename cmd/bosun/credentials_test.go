package main

import (
	"strings"
	"testing"
)

func TestRunRefusesToStartWithACredentialProviderConfigItCannotUse(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		flags   []string
		wantErr string
	}{
		{"a missing config", []string{"--image-credential-provider-config", dir + "/none.yaml", "--image-credential-provider-bin-dir", dir}, "none.yaml"},
		{"a missing bin dir", []string{"--image-credential-provider-config", dir, "--image-credential-provider-bin-dir", dir + "/nobin"}, "bin dir"},
		{"a bin dir without a config", []string{"--image-credential-provider-bin-dir", dir}, "no credential provider config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--root-dir", t.TempDir(), "--pod-logs-dir", t.TempDir(),
				"--container-runtime-endpoint", "unix:///nonexistent/cri.sock", "--api-socket", ""}, tc.flags...)
			_, stderr, err := runCLI(args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err %v, want one naming %q", err, tc.wantErr)
			}
			if strings.Contains(stderr, "image-credential-provider") {
				t.Errorf("the flags are said to be ignored:\n%s", stderr)
			}
		})
	}
}
