// Package host reads what bosun needs to know of the machine it runs on:
// its address, resolvers, AppArmor, CPUs and memory.
package host

import (
	"bufio"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// IP is the node's IP as the kubelet chooses it without --node-ip: the
// global address of the default route's interface, IPv4 first
// (k8s.io/apimachinery's ChooseHostInterface); "" when there is none.
func IP() string {
	return ipFrom(func() (net.IP, error) { return utilnet.ChooseHostInterfaceWithLogger(logr.Discard()) })
}

func ipFrom(choose func() (net.IP, error)) string {
	ip, err := choose()
	if err != nil || ip == nil {
		return ""
	}
	return ip.String()
}

// DNS parses a resolv.conf (the host's resolvers, for dnsPolicy Default).
func DNS(path string) *runtimeapi.DNSConfig {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := &runtimeapi.DNSConfig{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], ";") {
			continue
		}
		switch fields[0] {
		case "nameserver":
			out.Servers = append(out.Servers, fields[1])
		case "search", "domain":
			out.Searches = append(out.Searches, fields[1:]...)
		case "options":
			out.Options = append(out.Options, fields[1:]...)
		}
	}
	return out
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
