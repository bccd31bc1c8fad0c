package runtime

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
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

const parityPodYAML = `apiVersion: v1
kind: Pod
metadata: {name: etcd, namespace: kube-system}
spec:
  priorityClassName: system-node-critical
  volumes:
  - {name: data, emptyDir: {}}
  - {name: info, downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}}
  - {name: certs, hostPath: {path: /etc/kubernetes/pki}}
  containers:
  - name: main
    image: registry.k8s.io/etcd:3.5.21-0
    resources: {limits: {memory: 128Mi}}
    ports:
    - {name: metrics, containerPort: 2381}
    volumeMounts:
    - {name: data, mountPath: /var/lib/etcd}
    - {name: info, mountPath: /etc/podinfo/}
    - {name: certs, mountPath: /etc/kubernetes/pki, readOnly: true}
`

// parityMounts are the mounts podfs.PrepareMounts makes for parityPodYAML.
func parityMounts() []*runtimeapi.Mount {
	return []*runtimeapi.Mount{
		{ContainerPath: "/var/lib/etcd", HostPath: "/var/lib/bosun/pods/u/volumes/data"},
		{ContainerPath: "/etc/podinfo/", HostPath: "/var/lib/bosun/pods/u/volumes/info", Readonly: true},
		{ContainerPath: "/etc/kubernetes/pki", HostPath: "/etc/kubernetes/pki", Readonly: true},
		{ContainerPath: "/dev/termination-log", HostPath: "/var/lib/bosun/pods/u/containers/main/0"},
		{ContainerPath: "/etc/hosts", HostPath: "/var/lib/bosun/pods/u/etc-hosts"},
	}
}

func TestContainerConfigMatchesTheKubelet(t *testing.T) {
	v1Swap, v1NoSwap := testNode, testNode
	v1Swap.Memory = CgroupMemory{Swap: true}
	v2, v2NoSwap, v2Single := testNode, testNode, testNode
	v2.Memory = CgroupMemory{V2: true, Swap: true}
	v2NoSwap.Memory = CgroupMemory{V2: true}
	v2Single.Memory, v2Single.SingleProcessOOMKill = CgroupMemory{V2: true, Swap: true}, true
	selinux := testNode
	selinux.SELinux = true
	for _, tc := range []struct {
		name  string
		node  Node
		ref   string
		check func(t *testing.T, c *runtimeapi.ContainerConfig)
	}{
		{"the kubelet's container annotations are written: its hash of name and image, the termination message policy and the ports as JSON", testNode, "", func(t *testing.T, c *runtimeapi.ContainerConfig) {
			want := map[string]string{
				AnnotationContainerHash:     strconv.FormatUint(ContainerHash(&corev1.Container{Name: "main", Image: "registry.k8s.io/etcd:3.5.21-0"}), 16),
				AnnotationTermMessagePolicy: "File",
				AnnotationContainerPorts:    `[{"name":"metrics","containerPort":2381,"protocol":"TCP"}]`,
				AnnotationRestartCount:      "2",
				AnnotationTermMessagePath:   "/dev/termination-log",
				AnnotationContainerKind:     "app",
			}
			for k, v := range want {
				if c.Annotations[k] != v {
					t.Errorf("annotation %s = %q, want %q", k, c.Annotations[k], v)
				}
			}
		}},
		{"the image goes out as the kubelet sends it: the resolved reference, and the manifest's string as UserSpecifiedImage", testNode, "sha256:0123abcd", func(t *testing.T, c *runtimeapi.ContainerConfig) {
			if c.Image.Image != "sha256:0123abcd" || c.Image.UserSpecifiedImage != "registry.k8s.io/etcd:3.5.21-0" {
				t.Errorf("image %v", c.Image)
			}
		}},
		{"without a resolved reference the manifest's image string is sent as both", testNode, "", func(t *testing.T, c *runtimeapi.ContainerConfig) {
			if c.Image.Image != "registry.k8s.io/etcd:3.5.21-0" || c.Image.UserSpecifiedImage != "registry.k8s.io/etcd:3.5.21-0" {
				t.Errorf("image %v", c.Image)
			}
		}},
		{"on cgroup v2 an OOM kill takes the whole container and the container never swaps", v2, "", func(t *testing.T, c *runtimeapi.ContainerConfig) {
			r := c.Linux.Resources
			if len(r.Unified) != 2 || r.Unified["memory.oom.group"] != "1" || r.Unified["memory.swap.max"] != "0" || r.MemorySwapLimitInBytes != 0 {
				t.Errorf("unified %v, memory+swap %d", r.Unified, r.MemorySwapLimitInBytes)
			}
		}},
		{"on cgroup v2 with singleProcessOOMKill only the swap is limited", v2Single, "", func(t *testing.T, c *runtimeapi.ContainerConfig) {
			if u := c.Linux.Resources.Unified; len(u) != 1 || u["memory.swap.max"] != "0" {
				t.Errorf("unified %v", u)
			}
		}},
		{"on cgroup v2 without a swap controller only the OOM group is set", v2NoSwap, "", func(t *testing.T, c *runtimeapi.ContainerConfig) {
			if u := c.Linux.Resources.Unified; len(u) != 1 || u["memory.oom.group"] != "1" {
				t.Errorf("unified %v", u)
			}
		}},
		{"on cgroup v1 with a swap controller the memory and swap limit is the memory limit, and nothing unified is sent", v1Swap, "", func(t *testing.T, c *runtimeapi.ContainerConfig) {
			r := c.Linux.Resources
			if r.MemorySwapLimitInBytes != 128<<20 || r.MemoryLimitInBytes != 128<<20 || r.Unified != nil {
				t.Errorf("memory %d, memory+swap %d, unified %v", r.MemoryLimitInBytes, r.MemorySwapLimitInBytes, r.Unified)
			}
		}},
		{"on cgroup v1 without a swap controller no swap limit is sent", v1NoSwap, "", func(t *testing.T, c *runtimeapi.ContainerConfig) {
			if r := c.Linux.Resources; r.MemorySwapLimitInBytes != 0 || r.Unified != nil {
				t.Errorf("memory+swap %d, unified %v", r.MemorySwapLimitInBytes, r.Unified)
			}
		}},
		{"on an SELinux host emptyDir, downwardAPI, the termination message file and /etc/hosts are relabelled, hostPath is not", selinux, "", func(t *testing.T, c *runtimeapi.ContainerConfig) {
			want := map[string]bool{"/var/lib/etcd": true, "/etc/podinfo/": true, "/etc/kubernetes/pki": false, "/dev/termination-log": true, "/etc/hosts": true}
			checkRelabel(t, c.Mounts, want)
		}},
		{"without SELinux no mount is relabelled", testNode, "", func(t *testing.T, c *runtimeapi.ContainerConfig) {
			checkRelabel(t, c.Mounts, map[string]bool{"/var/lib/etcd": false, "/etc/podinfo/": false, "/etc/kubernetes/pki": false, "/dev/termination-log": false, "/etc/hosts": false})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := staticPod(t, parityPodYAML)
			mounts := parityMounts()
			c := ContainerConfig(sp, &sp.Pod.Spec.Containers[0], 2, tc.node, ContainerExtras{Mounts: mounts, ImageRef: tc.ref})
			tc.check(t, c)
			for i, m := range parityMounts() {
				if mounts[i].SelinuxRelabel != m.SelinuxRelabel {
					t.Errorf("the caller's mount %s was changed", m.ContainerPath)
				}
			}
		})
	}
}

func checkRelabel(t *testing.T, mounts []*runtimeapi.Mount, want map[string]bool) {
	t.Helper()
	if len(mounts) != len(want) {
		t.Fatalf("%d mounts, want %d", len(mounts), len(want))
	}
	for _, m := range mounts {
		if m.SelinuxRelabel != want[m.ContainerPath] {
			t.Errorf("mount %s: relabel %v, want %v", m.ContainerPath, m.SelinuxRelabel, want[m.ContainerPath])
		}
	}
}

func TestContainerHashIsTheKubelets(t *testing.T) {
	// The kubelet's own golden value (pkg/kubelet/container TestHashContainer):
	// only the name and the image count.
	c := &corev1.Container{Name: "test_container", Image: "foo/image:v1", Args: []string{"/bin/sh", "-c", "echo abc"},
		Ports: []corev1.ContainerPort{{ContainerPort: 8001}}}
	if got := ContainerHash(c); got != 0x8e45cbd0 {
		t.Errorf("hash %#x, want the kubelet's 0x8e45cbd0", got)
	}
}

func TestAContainerMadeFromAResolvedImageReadsBackTheManifestsImage(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec *runtimeapi.ImageSpec
		want string
	}{
		{"UserSpecifiedImage wins over the resolved reference", &runtimeapi.ImageSpec{Image: "sha256:0123", UserSpecifiedImage: "etcd:3.5"}, "etcd:3.5"},
		{"a runtime that dropped UserSpecifiedImage shows the image sent", &runtimeapi.ImageSpec{Image: "sha256:0123"}, "sha256:0123"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ContainerOf(&runtimeapi.Container{Image: tc.spec}).Image; got != tc.want {
				t.Errorf("image %q, want %q", got, tc.want)
			}
		})
	}
}

// resolvStep is one sandbox made after the resolv.conf is written (conf),
// removed ("-") or left as it is ("").
type resolvStep struct {
	conf    string
	servers string
}

func TestSandboxConfigReadsResolvConfForEveryNewSandbox(t *testing.T) {
	for _, tc := range []struct {
		name         string
		steps        []resolvStep
		warns, infos int
	}{
		{"a change of resolv.conf reaches the next sandbox", []resolvStep{
			{"nameserver 192.0.2.1\n", "192.0.2.1"}, {"nameserver 192.0.2.2\n", "192.0.2.2"}}, 0, 0},
		{"a missing resolv.conf is one warning, and later sandboxes keep the last resolvers read", []resolvStep{
			{"nameserver 192.0.2.1\n", "192.0.2.1"}, {"-", "192.0.2.1"}, {"", "192.0.2.1"}}, 1, 0},
		{"a resolv.conf missing from the start gives the loopback resolver, with one warning", []resolvStep{
			{"-", "127.0.0.1"}, {"", "127.0.0.1"}}, 1, 0},
		{"a resolv.conf that comes back is read again, and said so once", []resolvStep{
			{"-", "127.0.0.1"}, {"nameserver 192.0.2.3\n", "192.0.2.3"}, {"", "192.0.2.3"}}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			path := filepath.Join(t.TempDir(), "resolv.conf")
			node := testNode
			node.ResolvConf = NewResolvConf(path, slog.New(slog.NewTextHandler(&logs, nil)))
			sp := staticPod(t, strings.Replace(podYAML, "%s", "dnsPolicy: Default", 1))
			for i, s := range tc.steps {
				switch s.conf {
				case "":
				case "-":
					if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
						t.Fatal(err)
					}
				default:
					if err := os.WriteFile(path, []byte(s.conf), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if got := strings.Join(SandboxConfig(sp, 0, node, t0).DnsConfig.Servers, ","); got != s.servers {
					t.Errorf("sandbox %d: servers %q, want %q", i, got, s.servers)
				}
			}
			if w, i := strings.Count(logs.String(), "level=WARN"), strings.Count(logs.String(), "level=INFO"); w != tc.warns || i != tc.infos {
				t.Errorf("%d warnings and %d infos, want %d and %d:\n%s", w, i, tc.warns, tc.infos, logs.String())
			}
		})
	}
}

func TestAContainerReadsBackItsPortsForItsPreStopHook(t *testing.T) {
	sp := staticPod(t, `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    ports: [{name: http, containerPort: 8080}]
    lifecycle: {preStop: {httpGet: {port: http, path: /drain}}}
`)
	cfg := ContainerConfig(sp, &sp.Pod.Spec.Containers[0], 0, Node{Name: "n"}, ContainerExtras{})
	got := ContainerOf(&runtimeapi.Container{Annotations: cfg.GetAnnotations(), Metadata: cfg.GetMetadata()})
	if len(got.Ports) != 1 || got.Ports[0].Name != "http" || got.Ports[0].ContainerPort != 8080 || got.PreStop == nil {
		t.Errorf("read back ports %v, preStop %v; want http:8080 and the hook, so that its named port resolves after the manifest is gone", got.Ports, got.PreStop)
	}
}
