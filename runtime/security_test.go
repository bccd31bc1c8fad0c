package runtime

import (
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const securityPod = `apiVersion: v1
kind: Pod
metadata: {name: sec}
spec:
  SPEC
  containers:
  - name: main
    image: busybox:1.36
    CONTAINER
`

func secConfigs(t *testing.T, spec, container string) (*runtimeapi.PodSandboxConfig, *runtimeapi.ContainerConfig) {
	t.Helper()
	y := strings.Replace(strings.Replace(securityPod, "SPEC", spec, 1), "CONTAINER", container, 1)
	sp := staticPod(t, y)
	return SandboxConfig(sp, 0, testNode, t0), ContainerConfig(sp, &sp.Pod.Spec.Containers[0], 0, testNode, ContainerExtras{})
}

func TestSecurityTranslation(t *testing.T) {
	for _, tc := range []struct {
		name            string
		spec, container string
		check           func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.LinuxContainerSecurityContext)
	}{
		{"a plain pod gets RuntimeDefault seccomp and the default masked paths", "hostNetwork: false", "imagePullPolicy: Never",
			func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.LinuxContainerSecurityContext) {
				//nolint:staticcheck // the deprecated field is sent for older runtimes
				if c.Seccomp.ProfileType != runtimeapi.SecurityProfile_RuntimeDefault || c.GetSeccompProfilePath() != "runtime/default" ||
					sb.Linux.SecurityContext.Seccomp.ProfileType != runtimeapi.SecurityProfile_RuntimeDefault {
					t.Errorf("seccomp %v", c.Seccomp)
				}
				if len(c.MaskedPaths) == 0 || len(c.ReadonlyPaths) == 0 || c.NoNewPrivs || c.Privileged {
					t.Errorf("context %v", c)
				}
			}},
		{"a privileged container is unconfined and its sandbox privileged", "hostNetwork: true", "securityContext: {privileged: true}",
			func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.LinuxContainerSecurityContext) {
				if !c.Privileged || c.Seccomp.ProfileType != runtimeapi.SecurityProfile_Unconfined || len(c.MaskedPaths) != 0 || !sb.Linux.SecurityContext.Privileged {
					t.Errorf("context %v", c)
				}
			}},
		{"no privilege escalation sets no_new_privs; capabilities and users pass through", "securityContext: {runAsUser: 5, runAsGroup: 6, fsGroup: 7}",
			"securityContext: {allowPrivilegeEscalation: false, runAsUser: 8, capabilities: {add: [net_admin], drop: [ALL]}, readOnlyRootFilesystem: true}",
			func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.LinuxContainerSecurityContext) {
				if !c.NoNewPrivs || c.RunAsUser.GetValue() != 8 || c.RunAsGroup.GetValue() != 6 || !c.ReadonlyRootfs ||
					c.Capabilities.AddCapabilities[0] != "NET_ADMIN" || c.Capabilities.DropCapabilities[0] != "ALL" || c.SupplementalGroups[0] != 7 {
					t.Errorf("context %v", c)
				}
				if sb.Linux.SecurityContext.RunAsUser.GetValue() != 5 {
					t.Errorf("sandbox user %v", sb.Linux.SecurityContext.RunAsUser)
				}
			}},
		{"hostPID and hostIPC use the node's namespaces", "hostPID: true\n  hostIPC: true", "imagePullPolicy: Never",
			func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.LinuxContainerSecurityContext) {
				ns := c.NamespaceOptions
				if ns.Pid != runtimeapi.NamespaceMode_NODE || ns.Ipc != runtimeapi.NamespaceMode_NODE {
					t.Errorf("namespaces %v", ns)
				}
			}},
		{"shareProcessNamespace puts containers in the pod's PID namespace", "shareProcessNamespace: true", "imagePullPolicy: Never",
			func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.LinuxContainerSecurityContext) {
				if c.NamespaceOptions.Pid != runtimeapi.NamespaceMode_POD {
					t.Errorf("pid namespace %v", c.NamespaceOptions.Pid)
				}
			}},
		{"sysctls go to the sandbox", "securityContext: {sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: \"0\"}]}", "imagePullPolicy: Never",
			func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.LinuxContainerSecurityContext) {
				if sb.Linux.Sysctls["net.ipv4.ip_unprivileged_port_start"] != "0" {
					t.Errorf("sysctls %v", sb.Linux.Sysctls)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb, c := secConfigs(t, tc.spec, tc.container)
			tc.check(t, sb, c.Linux.SecurityContext)
		})
	}
}

func TestLocalhostSeccompProfiles(t *testing.T) {
	own := testNode
	own.SeccompProfileRoot = "/etc/bosun/seccomp"
	for _, tc := range []struct {
		name string
		node Node
		want string
	}{
		{"a Localhost profile is where the kubelet and the security-profiles-operator put it", testNode, "/var/lib/kubelet/seccomp/profiles/audit.json"},
		{"--seccomp-profile-root moves it", own, "/etc/bosun/seccomp/profiles/audit.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := staticPod(t, strings.NewReplacer("SPEC", "securityContext: {seccompProfile: {type: Localhost, localhostProfile: profiles/audit.json}}",
				"CONTAINER", "imagePullPolicy: Never").Replace(securityPod))
			c := &sp.Pod.Spec.Containers[0]
			sc := ContainerConfig(sp, c, 0, tc.node, ContainerExtras{}).Linux.SecurityContext
			sb := SandboxConfig(sp, 0, tc.node, t0).Linux.SecurityContext
			//nolint:staticcheck // the deprecated field is sent for older runtimes
			if sc.Seccomp.LocalhostRef != tc.want || sc.SeccompProfilePath != "localhost/"+tc.want || sb.Seccomp.LocalhostRef != tc.want {
				t.Errorf("container seccomp %v, sandbox %v, want %s", sc.Seccomp, sb.Seccomp, tc.want)
			}
			if got := SeccompLocalhostPath(tc.node, sp.Pod, c); got != tc.want {
				t.Errorf("SeccompLocalhostPath = %s, want %s", got, tc.want)
			}
		})
	}
}
