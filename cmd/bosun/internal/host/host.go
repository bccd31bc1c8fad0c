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
