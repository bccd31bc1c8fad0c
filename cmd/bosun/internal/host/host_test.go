package host

import (
	"errors"
	"net"
	"testing"
)

func TestMemoryAndCPUs(t *testing.T) {
	if MemoryBytes() <= 0 || CPUs() <= 0 {
		t.Errorf("memory %d, cpus %d", MemoryBytes(), CPUs())
	}
}

func TestNodeIPIsChosenInTheKubeletsOrder(t *testing.T) {
	hostAddrs := []net.Addr{
		&net.IPNet{IP: net.ParseIP("127.0.0.1")},
		&net.IPNet{IP: net.ParseIP("192.0.2.10")},
		&net.IPAddr{IP: net.ParseIP("2001:db8::10")},
		&net.IPNet{IP: net.ParseIP("fe80::1")},
	}
	hosts := map[string][]net.IP{
		"node-a":        {net.ParseIP("127.0.1.1"), net.ParseIP("2001:db8::10"), net.ParseIP("192.0.2.10")},
		"only-loopback": {net.ParseIP("127.0.1.1"), net.ParseIP("::1")},
		"elsewhere":     {net.ParseIP("198.51.100.9")},
		"link-local":    {net.ParseIP("fe80::1")},
		"only-ipv6":     {net.ParseIP("2001:db8::10")},
		"ipv4-and-ipv6": {net.ParseIP("192.0.2.10"), net.ParseIP("2001:db8::10")},
	}
	m := machine{
		lookupIP: func(name string) ([]net.IP, error) {
			if ips, ok := hosts[name]; ok {
				return ips, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
		},
		interfaceAddrs: func() ([]net.Addr, error) { return hostAddrs, nil },
		defaultRoute: func(family net.IP) (net.IP, error) {
			if family != nil && family.To4() == nil {
				return net.ParseIP("2001:db8::1"), nil
			}
			return net.ParseIP("203.0.113.1"), nil
		},
	}
	noRoute := m
	noRoute.defaultRoute = func(net.IP) (net.IP, error) { return nil, errors.New("no default route") }
	for _, tc := range []struct {
		name       string
		flag, node string
		m          machine
		want       string
		from       Source
	}{
		{"--node-ip wins over everything", "198.51.100.4", "node-a", m, "198.51.100.4", FromFlag},
		{"--node-ip is taken as given, loopback too", "127.0.0.1", "node-a", m, "127.0.0.1", FromFlag},
		{"a node name that is an IP is the node's IP", "", "192.0.2.99", m, "192.0.2.99", FromHostname},
		{"the node name's first valid IPv4 address is chosen over an earlier IPv6 one", "", "node-a", m, "192.0.2.10", FromLookup},
		{"--node-ip :: prefers the node name's IPv6 address", "::", "ipv4-and-ipv6", m, "2001:db8::10", FromLookup},
		{"--node-ip 0.0.0.0 prefers IPv4 as no flag does", "0.0.0.0", "ipv4-and-ipv6", m, "192.0.2.10", FromLookup},
		{"an IPv6 address is taken when the name has no valid IPv4 one", "", "only-ipv6", m, "2001:db8::10", FromLookup},
		{"loopback addresses of the name fall through to the default route", "", "only-loopback", m, "203.0.113.1", FromDefaultRoute},
		{"an address not on this host falls through to the default route", "", "elsewhere", m, "203.0.113.1", FromDefaultRoute},
		{"a link-local address falls through to the default route", "", "link-local", m, "203.0.113.1", FromDefaultRoute},
		{"a name that does not resolve falls through to the default route", "", "unknown", m, "203.0.113.1", FromDefaultRoute},
		{"--node-ip :: asks the default route for IPv6", "::", "unknown", m, "2001:db8::1", FromDefaultRoute},
		{"nothing found is no IP", "", "unknown", noRoute, "", FromNowhere},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, from := chooseNodeIP(tc.flag, tc.node, tc.m)
			if got != tc.want || from != tc.from {
				t.Errorf("chooseNodeIP(%q, %q) = %q from %q, want %q from %q", tc.flag, tc.node, got, from, tc.want, tc.from)
			}
		})
	}
}
