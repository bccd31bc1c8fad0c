package host

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	utilnet "k8s.io/apimachinery/pkg/util/net"
)

func TestDNSParsesResolvConf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	conf := "# generated\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n; comment\nsearch corp.example lab.example\noptions ndots:2 timeout:1\n"
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	got := DNS(p)
	if strings.Join(got.Servers, ",") != "192.0.2.53,192.0.2.54" || strings.Join(got.Searches, ",") != "corp.example,lab.example" ||
		strings.Join(got.Options, ",") != "ndots:2,timeout:1" {
		t.Errorf("parsed %v", got)
	}
	if DNS(filepath.Join(t.TempDir(), "missing")) != nil {
		t.Error("a missing file must give nil (the runtime then uses the host's)")
	}
}

func TestMemoryAndCPUs(t *testing.T) {
	if MemoryBytes() <= 0 || CPUs() <= 0 {
		t.Errorf("memory %d, cpus %d", MemoryBytes(), CPUs())
	}
}

func TestIPIsTheDefaultRouteInterfaceAddress(t *testing.T) {
	if got := ipFrom(func() (net.IP, error) { return net.ParseIP("192.0.2.7"), nil }); got != "192.0.2.7" {
		t.Errorf("chosen address: %q", got)
	}
	if got := ipFrom(func() (net.IP, error) { return nil, errors.New("no default route") }); got != "" {
		t.Errorf("without a default route: %q, want none", got)
	}
	// On this machine IP is what the kubelet would choose.
	want, err := utilnet.ChooseHostInterface()
	if err != nil {
		t.Skipf("no default route here: %v", err)
	}
	if got := IP(); got != want.String() {
		t.Errorf("IP() = %q, the kubelet's choice is %v", got, want)
	}
}
