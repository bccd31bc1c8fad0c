// Package host reads what bosun needs to know of the machine it runs on:
// its IP, resolvers, AppArmor, CPUs and memory.
package host

import (
	"bufio"
	"context"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// Source says where NodeIP found the node's address.
type Source string

// The places NodeIP takes an address from, in the kubelet's order.
const (
	FromFlag         Source = "flag"         // --node-ip
	FromHostname     Source = "hostname"     // the node name is an IP literal
	FromLookup       Source = "lookup"       // the node name's addresses (/etc/hosts, DNS)
	FromDefaultRoute Source = "defaultRoute" // the default route's interface
	FromNowhere      Source = ""             // no address found
)

// lookupTimeout bounds the resolution of the node name.
const lookupTimeout = 10 * time.Second

// machine is what NodeIP asks the host, injected so tests use no network.
type machine struct {
	// lookupIP resolves a host name as net.LookupIP does.
	lookupIP func(name string) ([]net.IP, error)
	// interfaceAddrs lists the host's addresses as net.InterfaceAddrs does.
	interfaceAddrs func() ([]net.Addr, error)
	// defaultRoute is utilnet.ResolveBindAddress: the default route's
	// interface address of the family of its argument (IPv4 for nil).
	defaultRoute func(family net.IP) (net.IP, error)
}

// NodeIP chooses the node's IP as the kubelet's NodeAddress setter does
// without a cloud provider: flag (--node-ip) unless it is empty, 0.0.0.0 or
// ::; else the node name when it is an IP literal; else the first of the
// node name's addresses that is assigned to this host and neither loopback,
// multicast, link-local nor unspecified, IPv4 first (IPv6 first when flag is
// ::); else the default route's interface address. It returns "" and
// FromNowhere when all fail.
func NodeIP(ctx context.Context, flag, nodeName string) (string, Source) {
	return chooseNodeIP(flag, nodeName, machine{
		lookupIP: func(name string) ([]net.IP, error) {
			ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			defer cancel()
			return net.DefaultResolver.LookupIP(ctx, "ip", name)
		},
		interfaceAddrs: net.InterfaceAddrs,
		defaultRoute: func(family net.IP) (net.IP, error) {
			return utilnet.ResolveBindAddressWithLogger(logr.Discard(), family)
		},
	})
}

func chooseNodeIP(flag, nodeName string, m machine) (string, Source) {
	given := net.ParseIP(flag)
	if given != nil && !given.IsUnspecified() {
		return given.String(), FromFlag
	}
	if ip := net.ParseIP(nodeName); ip != nil {
		return ip.String(), FromHostname
	}
	preferIPv4 := given == nil || given.To4() != nil
	if ip := lookupNodeIP(nodeName, preferIPv4, m); ip != nil {
		return ip.String(), FromLookup
	}
	if ip, err := m.defaultRoute(given); err == nil && ip != nil {
		return ip.String(), FromDefaultRoute
	}
	return "", FromNowhere
}

// lookupNodeIP is the first valid address of name in the preferred family,
// else the first valid one of the other family, else nil.
func lookupNodeIP(name string, preferIPv4 bool, m machine) net.IP {
	addrs, err := m.lookupIP(name)
	if err != nil {
		return nil
	}
	var other net.IP
	for _, ip := range addrs {
		if !validNodeIP(ip, m.interfaceAddrs) {
			continue
		}
		if (ip.To4() != nil) == preferIPv4 {
			return ip
		}
		if other == nil {
			other = ip
		}
	}
	return other
}

// validNodeIP is the kubelet's validateNodeIP: ip is a unicast, global
// address assigned to one of the host's interfaces.
func validNodeIP(ip net.IP, interfaceAddrs func() ([]net.Addr, error)) bool {
	if ip.To16() == nil || ip.IsLoopback() || ip.IsMulticast() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() {
		return false
	}
	addrs, err := interfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		var have net.IP
		switch v := a.(type) {
		case *net.IPNet:
			have = v.IP
		case *net.IPAddr:
			have = v.IP
		}
		if have.Equal(ip) {
			return true
		}
	}
	return false
}

// AppArmor reports whether the kernel has AppArmor enabled.
func AppArmor() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.TrimSpace(string(b)) == "Y"
}

// CPUs is the number of CPUs bosun may use.
func CPUs() int64 { return int64(runtime.NumCPU()) }

// MemoryBytes is the host's total memory, from /proc/meminfo.
func MemoryBytes() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
