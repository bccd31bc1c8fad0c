package runtime

import (
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const nodeConfigPod = `apiVersion: v1
kind: Pod
metadata: {name: cfg}
spec:
  SPEC
  containers:
  - name: main
    image: busybox:1.36
    resources: {limits: {cpu: 1500m}}
    env:
    - {name: A, value: first}
    - {name: B, value: b}
    - {name: A, value: last}
    - {name: C, value: $(A)}
`

// TestNodeConfigTranslation checks what the KubeletConfiguration fields that
// reach the runtime's config (seccompDefault, cpuCFSQuota,
// cpuCFSQuotaPeriod) do to a container, and the env rule of duplicate names.
func TestNodeConfigTranslation(t *testing.T) {
	unconfined := testNode
	unconfined.SeccompUnconfined = true
	noQuota := testNode
	noQuota.CPUCFSQuotaOff = true
	period := testNode
	period.CPUCFSQuotaPeriod = 50 * time.Millisecond
	for _, tc := range []struct {
		name  string
		spec  string
		node  Node
		check func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.ContainerConfig)
	}{
		{"seccompDefault false runs a container and a sandbox without a profile Unconfined", "hostNetwork: false", unconfined,
			func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.ContainerConfig) {
				if got := c.Linux.SecurityContext.Seccomp.GetProfileType(); got != runtimeapi.SecurityProfile_Unconfined {
					t.Errorf("container seccomp %v, want Unconfined", got)
				}
				if got := sb.Linux.SecurityContext.Seccomp.GetProfileType(); got != runtimeapi.SecurityProfile_Unconfined {
					t.Errorf("sandbox seccomp %v, want Unconfined", got)
				}
			}},
		{"seccompDefault false keeps the profile a pod sets", "securityContext: {seccompProfile: {type: RuntimeDefault}}", unconfined,
			func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.ContainerConfig) {
				if got := c.Linux.SecurityContext.Seccomp.GetProfileType(); got != runtimeapi.SecurityProfile_RuntimeDefault {
					t.Errorf("container seccomp %v, want RuntimeDefault", got)
				}
			}},
		{"bosun's default is RuntimeDefault for a container without a profile", "hostNetwork: false", testNode,
			func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.ContainerConfig) {
				if got := c.Linux.SecurityContext.Seccomp.GetProfileType(); got != runtimeapi.SecurityProfile_RuntimeDefault {
					t.Errorf("container seccomp %v, want RuntimeDefault", got)
				}
			}},
		{"cpuCFSQuota false sets no CFS quota for a CPU limit", "hostNetwork: false", noQuota,
			func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.ContainerConfig) {
				if r := c.Linux.Resources; r.CpuQuota != 0 || r.CpuPeriod != 0 || r.CpuShares != 1536 {
					t.Errorf("resources %v, want shares 1536 and no quota", r)
				}
			}},
		{"cpuCFSQuotaPeriod sets the period and the quota over it", "hostNetwork: false", period,
			func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.ContainerConfig) {
				if r := c.Linux.Resources; r.CpuQuota != 75000 || r.CpuPeriod != 50000 {
					t.Errorf("resources %v, want quota 75000 over 50000", r)
				}
			}},
		{"a name given twice in env is sent once, with its last value", "hostNetwork: false", testNode,
			func(t *testing.T, sb *runtimeapi.PodSandboxConfig, c *runtimeapi.ContainerConfig) {
				var got []string
				for _, kv := range c.Envs {
					got = append(got, kv.Key+"="+string(kv.Value))
				}
				if want := "B=b A=last C=last"; strings.Join(got, " ") != want {
					t.Errorf("env %q, want %q", strings.Join(got, " "), want)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := staticPod(t, strings.Replace(nodeConfigPod, "SPEC", tc.spec, 1))
			tc.check(t, SandboxConfig(sp, 0, tc.node, t0), ContainerConfig(sp, &sp.Pod.Spec.Containers[0], 0, tc.node, ContainerExtras{}))
		})
	}
}
