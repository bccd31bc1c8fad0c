package kubeletconfig

import (
	"os"
	"path/filepath"
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

func TestLoadHonouredFields(t *testing.T) {
	c, err := Load(write(t, `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: /etc/kubernetes/manifests
fileCheckFrequency: 5s
syncFrequency: 1m0s
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
podLogsDir: /var/log/pods
containerLogMaxSize: 20Mi
containerLogMaxFiles: 3
cgroupDriver: systemd
resolvConf: /run/systemd/resolve/resolv.conf
authentication: {anonymous: {enabled: false}}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{StaticPodPath: "/etc/kubernetes/manifests", FileCheckFrequency: 5 * time.Second, SyncFrequency: time.Minute,
		ContainerRuntimeEndpoint: "unix:///run/containerd/containerd.sock", PodLogsDir: "/var/log/pods", ContainerLogMaxSize: 20 << 20, ContainerLogMaxFiles: 3,
		CgroupDriver: "systemd", ResolvConf: "/run/systemd/resolve/resolv.conf"}
	if c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestLoadErrorsNameFileAndField(t *testing.T) {
	for body, want := range map[string]string{
		"apiVersion: v1\nkind: Pod\n": "want kind KubeletConfiguration",
		"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nsyncFrequency: often\n":     "syncFrequency: \"often\" is not a positive duration",
		"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncontainerLogMaxSize: big\n": "containerLogMaxSize",
	} {
		p := write(t, body)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: %v, want %q naming the file", body, err, want)
		}
	}
}
