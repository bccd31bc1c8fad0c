package host

import (
	"errors"
	"net"
	"testing"

	utilnet "k8s.io/apimachinery/pkg/util/net"
)

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
