package kubeletconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const header = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"

// testdata/kubeadm-v1.37.2.yaml is the /var/lib/kubelet/config.yaml that
// `kubeadm init phase kubelet-start` of v1.37.2 writes with the default
// ClusterConfiguration on a host with systemd-resolved: the
// k8s.io/kubelet/config/v1beta1 KubeletConfiguration after kubeadm's
// componentconfigs Default() and Mutate(), marshalled (so every non-pointer
// duration is "0s"), then patched with instance-config.yaml's
// containerRuntimeEndpoint.
func TestLoadKubeadmConfig(t *testing.T) {
	c, err := Load("testdata/kubeadm-v1.37.2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rotate := true
	want := Config{StaticPodPath: "/etc/kubernetes/manifests", ContainerRuntimeEndpoint: "unix:///var/run/containerd/containerd.sock",
		HealthzSet: true, HealthzAddress: "127.0.0.1:10248", CgroupDriver: "systemd", ResolvConf: "/run/systemd/resolve/resolv.conf",
		ClusterDNS: []string{"10.96.0.10"}, ClusterDomain: "cluster.local", RotateCertificates: &rotate,
		Ignored: []string{"authentication", "authorization"}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestLoadHonouredFields(t *testing.T) {
	c, err := Load(write(t, header+`staticPodPath: /etc/kubernetes/manifests
fileCheckFrequency: 5s
syncFrequency: 1m0s
httpCheckFrequency: 20s
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
podLogsDir: /var/log/pods
containerLogMaxSize: 20Mi
containerLogMaxFiles: 3
cgroupDriver: systemd
resolvConf: /run/systemd/resolve/resolv.conf
healthzPort: 10300
crashLoopBackOff: {maxContainerRestartPeriod: 30s}
clusterDNS: [10.96.0.10, "fd00::a"]
clusterDomain: example.internal
authentication: {anonymous: {enabled: false}}
readOnlyPort: 0
logging: {verbosity: 0}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{StaticPodPath: "/etc/kubernetes/manifests", FileCheckFrequency: 5 * time.Second, SyncFrequency: time.Minute,
		ContainerRuntimeEndpoint: "unix:///run/containerd/containerd.sock", PodLogsDir: "/var/log/pods", ContainerLogMaxSize: 20 << 20, ContainerLogMaxFiles: 3,
		CgroupDriver: "systemd", ResolvConf: "/run/systemd/resolve/resolv.conf", HealthzSet: true, HealthzAddress: "127.0.0.1:10300",
		MaxContainerRestartPeriod: 30 * time.Second, ClusterDNS: []string{"10.96.0.10", "fd00::a"}, ClusterDomain: "example.internal",
		// Zero values ("0", {verbosity: 0}) are not worth a warning.
		Ignored: []string{"httpCheckFrequency"}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestLoadHealthzAddress(t *testing.T) {
	for _, tc := range []struct {
		body string
		set  bool
		addr string
	}{
		{"", false, ""},
		{"healthzBindAddress: 127.0.0.1\nhealthzPort: 10248\n", true, "127.0.0.1:10248"},
		{"healthzPort: 10300\n", true, "127.0.0.1:10300"},
		{"healthzBindAddress: \"::1\"\n", true, "[::1]:10248"},
		{"healthzBindAddress: 127.0.0.1\nhealthzPort: 0\n", true, ""},
	} {
		c, err := Load(write(t, header+tc.body))
		if err != nil || c.HealthzSet != tc.set || c.HealthzAddress != tc.addr {
			t.Errorf("%q: set %v address %q, %v; want %v %q", tc.body, c.HealthzSet, c.HealthzAddress, err, tc.set, tc.addr)
		}
	}
}

func TestLoadErrorsNameFileAndField(t *testing.T) {
	for body, want := range map[string]string{
		"apiVersion: v1\nkind: Pod\n":                                   "want kind KubeletConfiguration",
		header + "syncFrequency: often\n":                               `syncFrequency: "often" is not a duration`,
		header + "fileCheckFrequency: -5s\n":                            `fileCheckFrequency: "-5s" is not a duration`,
		header + "httpCheckFrequency: soon\n":                           "httpCheckFrequency:",
		header + "containerLogMaxSize: big\n":                           "containerLogMaxSize",
		header + "containerLogMaxFiles: 1\n":                            "containerLogMaxFiles: 1: must be a number of at least 2",
		header + "healthzPort: 70000\n":                                 "healthzPort: 70000 is not a port number",
		header + "healthzBindAddress: localhost\n":                      `healthzBindAddress: "localhost" is not an IP address`,
		header + "cgroupDriver: cgroupv2\n":                             `cgroupDriver: "cgroupv2": must be cgroupfs or systemd`,
		header + "staticPodPath: [a]\n":                                 "staticPodPath: want a string",
		header + "podLogsDir: logs\n":                                   `podLogsDir: "logs" is not an absolute path`,
		header + "clusterDNS: [kube-dns]\n":                             `clusterDNS: "kube-dns" is not an IP address`,
		header + "staticPodURL: http://x/pods\n":                        "staticPodURL: \"http://x/pods\": bosun reads pods only from staticPodPath",
		header + "crashLoopBackOff: {maxContainerRestartPeriod: 10m}\n": "crashLoopBackOff: maxContainerRestartPeriod: 10m0s is not between 1s and 300s",
		"- a list\n": "not a KubeletConfiguration object",
	} {
		p := write(t, body)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: %v, want %q naming the file", body, err, want)
		}
	}
}

func TestLoadReadsTheNodesFieldsOfTheAPISide(t *testing.T) {
	c, err := Load(write(t, header+`rotateCertificates: false
registerWithTaints:
- key: node-role.kubernetes.io/control-plane
  effect: NoSchedule
nodeStatusUpdateFrequency: 4s
nodeStatusReportFrequency: 1m
nodeLeaseDurationSeconds: 20
kubeAPIQPS: 7
kubeAPIBurst: 9
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.RotateCertificates == nil || *c.RotateCertificates || len(c.RegisterWithTaints) != 1 ||
		c.RegisterWithTaints[0].Key != "node-role.kubernetes.io/control-plane" || c.RegisterWithTaints[0].Effect != "NoSchedule" ||
		c.NodeStatusUpdateFrequency != 4*time.Second || c.NodeStatusReportFrequency != time.Minute ||
		c.NodeLeaseDuration != 20*time.Second || c.KubeAPIQPS != 7 || c.KubeAPIBurst != 9 || len(c.Ignored) != 0 {
		t.Errorf("got %+v", c)
	}
	if _, err := Load(write(t, header+"registerWithTaints:\n- key: a\n  effect: Sometimes\n")); err == nil ||
		!strings.Contains(err.Error(), "registerWithTaints") || !strings.Contains(err.Error(), "Sometimes") {
		t.Errorf("a taint with an unknown effect: %v", err)
	}
}
