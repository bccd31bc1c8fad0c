package manifest

import (
	"strings"
	"testing"
)

func sysctlPod(t *testing.T, spec string) *StaticPod {
	t.Helper()
	y := "apiVersion: v1\nkind: Pod\nmetadata: {name: s}\nspec:\n  " + spec + "\n  containers: [{name: main, image: busybox:1.36}]\n"
	sp, err := Load("/m/s.yaml", []byte(y), "node1")
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func TestAdmitSysctls(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    string
		allowed []string
		want    string // "" means admitted
	}{
		{"a safe sysctl is admitted", "securityContext: {sysctls: [{name: net.ipv4.ip_local_port_range, value: 1024 65535}]}", nil, ""},
		{"an unsafe sysctl not allowed is refused, naming file and field",
			"securityContext: {sysctls: [{name: kernel.shm_rmid_forced, value: '1'}, {name: net.core.somaxconn, value: '1024'}]}", nil,
			`manifest /m/s.yaml: spec.securityContext.sysctls[1].name: forbidden sysctl "net.core.somaxconn": not a safe sysctl and not in allowedUnsafeSysctls`},
		{"an unsafe sysctl allowed by name is admitted", "securityContext: {sysctls: [{name: net.core.somaxconn, value: '1024'}]}", []string{"net.core.somaxconn"}, ""},
		{"an unsafe sysctl allowed by a prefix is admitted", "securityContext: {sysctls: [{name: kernel.msgmax, value: '65536'}]}", []string{"kernel.msg*"}, ""},
		{"a slash-separated name is read as its dotted form", "securityContext: {sysctls: [{name: net/core/somaxconn, value: '1024'}]}", []string{"net.core.somaxconn"}, ""},
		{"a network sysctl in a hostNetwork pod is refused",
			"hostNetwork: true\n  securityContext: {sysctls: [{name: net.ipv4.tcp_syncookies, value: '1'}]}", nil,
			`spec.securityContext.sysctls[0].name: forbidden sysctl "net.ipv4.tcp_syncookies": not allowed with the host's network namespace`},
		{"an IPC sysctl in a hostIPC pod is refused",
			"hostIPC: true\n  securityContext: {sysctls: [{name: kernel.shm_rmid_forced, value: '1'}]}", nil,
			`forbidden sysctl "kernel.shm_rmid_forced": not allowed with the host's IPC namespace`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := AdmitSysctls(sysctlPod(t, tc.spec), tc.allowed)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCheckSysctlPatterns(t *testing.T) {
	if err := CheckSysctlPatterns([]string{"net.*", "kernel.shm*", "kernel.sem", "fs.mqueue.*", "net/core/somaxconn"}); err != nil {
		t.Errorf("namespaced patterns refused: %v", err)
	}
	for _, p := range []string{"vm.swappiness", "kernel.*", "*", "net.*.x*"} {
		if err := CheckSysctlPatterns([]string{p}); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: %v, want an error naming it", p, err)
		}
	}
}
