package runtime

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
)

func staticPod(t *testing.T, yaml string) *manifest.StaticPod {
	t.Helper()
	sp, err := manifest.Load("/etc/kubernetes/manifests/p.yaml", []byte(yaml), "Node1")
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

const podYAML = `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: kube-system
  labels: {tier: cp}
  annotations: {note: hi}
spec:
  %s
  terminationGracePeriodSeconds: 7
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "echo $(A) $(B) $$(A) $(MISSING)"]
    args: ["$(A)"]
    workingDir: /w
    env:
    - {name: A, value: one}
    - {name: B, value: "$(A)-two"}
    ports:
    - {containerPort: 80, hostPort: 8080}
    - {containerPort: 53, protocol: UDP}
`

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var testNode = Node{Name: "node1", HostIP: "192.0.2.1", PodLogsDir: "/var/log/pods", RootDir: "/var/lib/bosun", CgroupDriver: "cgroupfs", CPUs: 2, MemoryBytes: 1 << 30}

func TestSandboxConfig(t *testing.T) {
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		spec  string
		check func(t *testing.T, c *runtimeapi.PodSandboxConfig)
	}{
		{"hostNetwork pod sets NODE network mode and no hostname", "hostNetwork: true", func(t *testing.T, c *runtimeapi.PodSandboxConfig) {
			if c.Linux.SecurityContext.NamespaceOptions.Network != runtimeapi.NamespaceMode_NODE || c.Hostname != "" {
				t.Errorf("network %v hostname %q", c.Linux.SecurityContext.NamespaceOptions.Network, c.Hostname)
			}
		}},
		{"pod network pod gets POD mode and the kubelet's name of a static pod as hostname", "hostNetwork: false", func(t *testing.T, c *runtimeapi.PodSandboxConfig) {
			if c.Linux.SecurityContext.NamespaceOptions.Network != runtimeapi.NamespaceMode_POD || c.Hostname != "web-node1" {
				t.Errorf("network %v hostname %q", c.Linux.SecurityContext.NamespaceOptions.Network, c.Hostname)
			}
		}},
		{"identity follows the kubelet", "hostNetwork: true", func(t *testing.T, c *runtimeapi.PodSandboxConfig) {
			m := c.Metadata
			if m.Name != "web-node1" || m.Namespace != "kube-system" || len(m.Uid) != 32 || m.Attempt != 3 {
				t.Errorf("metadata %v", m)
			}
			want := map[string]string{"tier": "cp", LabelManaged: "true", LabelPodName: "web-node1", LabelPodNamespace: "kube-system", LabelPodUID: m.Uid}
			for k, v := range want {
				if c.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
				}
			}
			wantA := map[string]string{"note": "hi", AnnotationConfigHash: m.Uid, AnnotationConfigSource: "file",
				AnnotationConfigSeen: "2026-01-02T03:04:05Z", AnnotationManifest: "/etc/kubernetes/manifests/p.yaml"}
			for k, v := range wantA {
				if c.Annotations[k] != v {
					t.Errorf("annotation %s = %q, want %q", k, c.Annotations[k], v)
				}
			}
			if c.LogDirectory != "/var/log/pods/kube-system_web-node1_"+m.Uid {
				t.Errorf("log directory %s", c.LogDirectory)
			}
		}},
		{"host ports become port mappings", "hostNetwork: false", func(t *testing.T, c *runtimeapi.PodSandboxConfig) {
			if len(c.PortMappings) != 1 || c.PortMappings[0].HostPort != 8080 || c.PortMappings[0].ContainerPort != 80 || c.PortMappings[0].Protocol != runtimeapi.Protocol_TCP {
				t.Errorf("port mappings %v", c.PortMappings)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := staticPod(t, strings.Replace(podYAML, "%s", tc.spec, 1))
			tc.check(t, SandboxConfig(sp, 3, testNode, seen))
		})
	}
}

func TestPodHostname(t *testing.T) {
	name58 := strings.Repeat("a", 58)
	name62 := strings.Repeat("b", 62)
	for _, tc := range []struct {
		name, meta, spec string
		node             Node
		hostname, domain string
		sandbox          string
	}{
		{"the hostname is the pod's name with the lowercase node name", "web", "hostNetwork: false", testNode,
			"web-node1", "", "web-node1"},
		{"spec.hostname wins over the name", "web", "hostname: box", testNode, "box", "", "box"},
		{"a name over 63 characters is cut to 63", name58, "hostNetwork: false", testNode,
			name58 + "-node", "", name58 + "-node"},
		{"a cut that ends in a dash loses the dash", name62, "hostNetwork: false", testNode,
			name62, "", name62},
		{"a subdomain gives the domain below the cluster domain", "web", "hostname: box\n  subdomain: sub", Node{ClusterDomain: "cluster.local"},
			"box", "sub.kube-system.svc.cluster.local", "box"},
		{"setHostnameAsFQDN makes the sandbox's hostname the FQDN", "web", "hostname: box\n  subdomain: sub\n  setHostnameAsFQDN: true", Node{ClusterDomain: "cluster.local"},
			"box", "sub.kube-system.svc.cluster.local", "box.sub.kube-system.svc.cluster.local"},
		{"hostnameOverride wins over everything and has no domain", "web", "hostname: box\n  subdomain: sub\n  hostnameOverride: other.example", Node{ClusterDomain: "cluster.local"},
			"other.example", "", "other.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := strings.Replace(strings.Replace(podYAML, "%s", tc.spec, 1), "name: web\n", "name: "+tc.meta+"\n", 1)
			sp := staticPod(t, y)
			host, domain := PodHostnameAndDomain(sp, tc.node.ClusterDomain)
			if host != tc.hostname || domain != tc.domain {
				t.Errorf("hostname %q domain %q, want %q %q", host, domain, tc.hostname, tc.domain)
			}
			if got := SandboxConfig(sp, 0, tc.node, t0).Hostname; got != tc.sandbox {
				t.Errorf("sandbox hostname %q, want %q", got, tc.sandbox)
			}
		})
	}
}

func TestContainerConfig(t *testing.T) {
	sp := staticPod(t, strings.Replace(podYAML, "%s", "hostNetwork: true", 1))
	c := ContainerConfig(sp, &sp.Pod.Spec.Containers[0], 4, testNode, ContainerExtras{})
	if c.Metadata.Name != "main" || c.Metadata.Attempt != 4 || c.LogPath != "main/4.log" || c.Image.Image != "busybox:1.36" || c.WorkingDir != "/w" {
		t.Errorf("config %v", c)
	}
	if got, want := strings.Join(c.Command, "|"), "sh|-c|echo one one-two $(A) $(MISSING)"; got != want {
		t.Errorf("command %q, want %q ($(VAR) expansion)", got, want)
	}
	if len(c.Args) != 1 || c.Args[0] != "one" {
		t.Errorf("args %v", c.Args)
	}
	if len(c.Envs) != 2 || string(c.Envs[1].Value) != "one-two" {
		t.Errorf("env %v", c.Envs)
	}
	for k, v := range map[string]string{AnnotationRestartCount: "4", AnnotationTermGracePeriod: "7", AnnotationTermMessagePath: "/dev/termination-log"} {
		if c.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, c.Annotations[k], v)
		}
	}
	if c.Labels[LabelContainerName] != "main" || c.Labels[LabelPodUID] != sp.UID || c.Labels[LabelManaged] != "true" {
		t.Errorf("labels %v", c.Labels)
	}
	if c.Linux.SecurityContext.NamespaceOptions.Network != runtimeapi.NamespaceMode_NODE {
		t.Error("container of a hostNetwork pod not in the node's network")
	}
	if GracePeriodOf(c.Annotations) != 7 || RestartCountOf(c.Annotations, 0) != 4 {
		t.Error("annotations do not read back")
	}
}

func TestResources(t *testing.T) {
	q := resource.MustParse
	for _, tc := range []struct {
		name string
		r    corev1.ResourceRequirements
		want *runtimeapi.LinuxContainerResources
	}{
		{"no resources get the minimum cpu shares", corev1.ResourceRequirements{}, &runtimeapi.LinuxContainerResources{CpuShares: 2}},
		{"cpu request becomes shares", corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("250m")}},
			&runtimeapi.LinuxContainerResources{CpuShares: 256}},
		{"cpu limit becomes a quota over 100ms", corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": q("1500m"), "memory": q("128Mi")}},
			&runtimeapi.LinuxContainerResources{CpuShares: 1536, CpuPeriod: 100000, CpuQuota: 150000, MemoryLimitInBytes: 128 << 20}},
		{"tiny cpu limit keeps the minimum quota", corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": q("1m")}},
			&runtimeapi.LinuxContainerResources{CpuShares: 2, CpuPeriod: 100000, CpuQuota: 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Resources(tc.r)
			if got.CpuShares != tc.want.CpuShares || got.CpuQuota != tc.want.CpuQuota || got.CpuPeriod != tc.want.CpuPeriod || got.MemoryLimitInBytes != tc.want.MemoryLimitInBytes {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x", "B": "y"}
	for in, want := range map[string]string{
		"$(A)":       "x",
		"$(A)$(B)":   "xy",
		"$$(A)":      "$(A)",
		"$(C)":       "$(C)",
		"$(A":        "$(A",
		"a$b":        "a$b",
		"end$":       "end$",
		"$$$$":       "$$",
		"pre$(B)suf": "preysuf",
	} {
		if got := Expand(in, vars); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnvVarsResolveValuesAndFieldRefs(t *testing.T) {
	sp := staticPod(t, `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: main
    image: busybox:1.36
    env:
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: DIR, value: "logs/$(POD)"}
`)
	vars := EnvVars(sp, &sp.Pod.Spec.Containers[0], testNode, "10.0.0.5")
	if vars["POD"] != "web-node1" || vars["DIR"] != "logs/web-node1" {
		t.Errorf("vars %v", vars)
	}
}

func TestContainerConfigNeverBuildsAnExpansionPastItsBound(t *testing.T) {
	sp := staticPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: bomb}\nspec:\n  containers:\n  - {name: main, image: busybox:1.36}\n")
	// Validation refuses this env (manifest.Load); a pod that skipped it
	// gets its values as written, not 32 MiB each.
	c := &sp.Pod.Spec.Containers[0]
	c.Env = []corev1.EnvVar{{Name: "A", Value: strings.Repeat("x", 1024)}}
	for _, n := range []string{"B", "C", "D", "E", "F"} {
		c.Env = append(c.Env, corev1.EnvVar{Name: n, Value: strings.Repeat("$("+c.Env[len(c.Env)-1].Name+")", 8)})
	}
	c.Args = []string{"$(F)"}
	cfg := ContainerConfig(sp, c, 0, testNode, ContainerExtras{})
	for i, kv := range cfg.Envs {
		if string(kv.Value) != c.Env[i].Value {
			t.Errorf("env %s: %d bytes, want its %d bytes as written", kv.Key, len(kv.Value), len(c.Env[i].Value))
		}
	}
	if len(cfg.Args) != 1 || cfg.Args[0] != "$(F)" {
		t.Errorf("args of %d bytes, want them as written", len(strings.Join(cfg.Args, "")))
	}
	if got := Expand(strings.Repeat("$(A)", 200), map[string]string{"A": strings.Repeat("x", 1024)}); got != strings.Repeat("$(A)", 200) {
		t.Errorf("a subPathExpr past the bound expanded to %d bytes, want it as written", len(got))
	}
}
