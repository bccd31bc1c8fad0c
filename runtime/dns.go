package runtime

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	stdsync "sync"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The kubelet's limits on a pod's resolver configuration (the API server's
// validation limits, applied after merging).
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
	maxDNSSearchPathLen   = 253
	maxResolvConfBytes    = 10 << 20
)

// clusterDNSOptions are the options of a ClusterFirst pod with a cluster DNS.
var clusterDNSOptions = []string{"ndots:5"}

// ReadResolvConf parses a resolv.conf as the kubelet does for --resolv-conf:
// nameserver lines, the last search line (trailing dots trimmed, "."
// dropped) and options (a later option replaces an earlier one of the same
// name); domain lines and comments are ignored. Errors name the file. An
// empty path means none: nil, as the kubelet's empty resolvConf.
func ReadResolvConf(path string) (*runtimeapi.DNSConfig, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("resolv.conf %s: %w", path, err)
	}
	defer f.Close()
	cfg, err := parseResolvConf(io.LimitReader(f, maxResolvConfBytes))
	if err != nil {
		return nil, fmt.Errorf("resolv.conf %s: %w", path, err)
	}
	return cfg, nil
}

// ResolvConf is the node's --resolv-conf, read again for every new sandbox
// as the kubelet reads its resolvConf (pkg/kubelet/network/dns), so that a
// change of the host's resolvers reaches the pods made after it. It is safe
// for concurrent use.
type ResolvConf struct {
	path string
	log  *slog.Logger

	mu      stdsync.Mutex
	last    *runtimeapi.DNSConfig // the last good read, nil before one
	problem string                // the problem last warned about, "" when the last read was good
}

// NewResolvConf reads path for every sandbox; an empty path means none
// (nil), as the kubelet's empty resolvConf.
func NewResolvConf(path string, log *slog.Logger) *ResolvConf {
	if path == "" {
		return nil
	}
	return &ResolvConf{path: path, log: log}
}

// Read parses the file now, within maxResolvConfBytes. A file that is
// missing or does not parse is a warning, logged once until the problem
// changes, not an error: the sandbox gets the last resolvers read (nil
// before any, which DNSConfig turns into the loopback resolver of an empty
// --resolv-conf), and one line says when the file reads again. The kubelet
// fails the sandbox instead and retries until the file is back.
func (r *ResolvConf) Read() *runtimeapi.DNSConfig {
	cfg, err := ReadResolvConf(r.path)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if msg := err.Error(); msg != r.problem {
			r.problem = msg
			r.log.Warn("resolv.conf unreadable; new sandboxes get the last resolvers read", "file", r.path, "err", err)
		}
		return r.last
	}
	if r.problem != "" {
		r.problem = ""
		r.log.Info("resolv.conf readable again", "file", r.path)
	}
	r.last = cfg
	return cfg
}

func parseResolvConf(r io.Reader) (*runtimeapi.DNSConfig, error) {
	out := &runtimeapi.DNSConfig{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxResolvConfBytes)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if len(fields) < 2 {
				return nil, fmt.Errorf("line %d: nameserver without an address", n)
			}
			out.Servers = append(out.Servers, fields[1])
		case "search":
			out.Searches = nil
			for _, s := range fields[1:] {
				if s != "." {
					out.Searches = append(out.Searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			out.Options = mergeOptions(out.Options, fields[1:])
		}
	}
	return out, sc.Err()
}

// mergeOptions adds resolver options ("name" or "name:value") to opts: one
// of a name already there replaces it in place, others are appended.
func mergeOptions(opts, add []string) []string {
	out := append([]string(nil), opts...)
	for _, o := range add {
		name, _, _ := strings.Cut(o, ":")
		replaced := false
		for i, have := range out {
			if n, _, _ := strings.Cut(have, ":"); n == name {
				out[i], replaced = o, true
				break
			}
		}
		if !replaced {
			out = append(out, o)
		}
	}
	return out
}

// usesClusterDNS reports whether the kubelet resolves a pod through the
// cluster DNS: ClusterFirstWithHostNet, and ClusterFirst off the host
// network (a hostNetwork ClusterFirst pod gets the host's resolvers).
func usesClusterDNS(pod *corev1.Pod) bool {
	switch pod.Spec.DNSPolicy {
	case corev1.DNSClusterFirstWithHostNet:
		return true
	case corev1.DNSClusterFirst, "":
		return !pod.Spec.HostNetwork
	}
	return false
}

// MissingClusterDNS reports whether a pod asks for the cluster DNS that the
// node does not have (no clusterDNS): it then gets the host's resolvers, and
// the kubelet warns.
func MissingClusterDNS(pod *corev1.Pod, node Node) bool {
	return usesClusterDNS(pod) && len(node.ClusterDNS) == 0
}

// DNSConfig is a pod's resolver configuration, as the kubelet makes it:
//   - ClusterFirst (off the host network) and ClusterFirstWithHostNet with a
//     cluster DNS: its servers, the searches <ns>.svc.<domain>, svc.<domain>
//     and <domain> before the host's, and ndots:5;
//   - without a cluster DNS, and for Default and hostNetwork ClusterFirst: the
//     host's (node.DNS, the parsed --resolv-conf; without one, 127.0.0.1 and
//     the search ".");
//   - None: nothing but dnsConfig.
//
// dnsConfig is merged in (duplicates removed, options replaced by name), then
// the kubelet's limits apply: 3 nameservers, 32 searches of at most 253
// characters, 2048 characters in all. It is never nil, so the runtime never
// copies its own host's /etc/resolv.conf.
func DNSConfig(pod *corev1.Pod, node Node) *runtimeapi.DNSConfig {
	host := &runtimeapi.DNSConfig{}
	if node.DNS != nil {
		host.Servers = append(host.Servers, node.DNS.Servers...)
		host.Searches = append(host.Searches, node.DNS.Searches...)
		host.Options = append(host.Options, node.DNS.Options...)
	} else {
		host.Servers, host.Searches = []string{loopbackFor(node.HostIP)}, []string{"."}
	}
	var out *runtimeapi.DNSConfig
	switch {
	case pod.Spec.DNSPolicy == corev1.DNSNone:
		out = &runtimeapi.DNSConfig{}
	case usesClusterDNS(pod) && len(node.ClusterDNS) > 0:
		out = &runtimeapi.DNSConfig{
			Servers:  append([]string(nil), node.ClusterDNS...),
			Searches: clusterSearches(pod.Namespace, node.ClusterDomain, node.DNS.GetSearches()),
			Options:  append([]string(nil), clusterDNSOptions...),
		}
	default:
		out = host
	}
	if extra := pod.Spec.DNSConfig; extra != nil {
		out.Servers = uniq(append(out.Servers, extra.Nameservers...))
		out.Searches = uniq(append(out.Searches, extra.Searches...))
		opts := make([]string, 0, len(extra.Options))
		for _, o := range extra.Options {
			if o.Value != nil && *o.Value != "" {
				opts = append(opts, o.Name+":"+*o.Value)
			} else {
				opts = append(opts, o.Name)
			}
		}
		out.Options = mergeOptions(out.Options, opts)
	}
	if len(out.Servers) > maxDNSNameservers {
		out.Servers = out.Servers[:maxDNSNameservers]
	}
	out.Searches = searchesWithinLimits(out.Searches)
	return out
}

// loopbackFor is the loopback resolver of a node without a resolv.conf:
// ::1 on an IPv6 node, 127.0.0.1 otherwise.
func loopbackFor(hostIP string) string {
	if ip := net.ParseIP(hostIP); ip != nil && ip.To4() == nil {
		return "::1"
	}
	return "127.0.0.1"
}

// clusterSearches are a ClusterFirst pod's searches in namespace ns.
func clusterSearches(ns, domain string, host []string) []string {
	if domain == "" {
		return append([]string(nil), host...)
	}
	return uniq(append([]string{ns + ".svc." + domain, "svc." + domain, domain}, host...))
}

// searchesWithinLimits drops searches past the 32nd and longer than 253
// characters, then the last ones until the line has at most 2048 characters.
func searchesWithinLimits(s []string) []string {
	if len(s) > maxDNSSearchPaths {
		s = s[:maxDNSSearchPaths]
	}
	out := s[:0]
	total := -1
	for _, d := range s {
		if len(d) <= maxDNSSearchPathLen {
			out = append(out, d)
			total += len(d) + 1
		}
	}
	for total > maxDNSSearchListChars {
		total -= len(out[len(out)-1]) + 1
		out = out[:len(out)-1]
	}
	return out
}

// uniq drops repeated strings, keeping the first of each.
func uniq(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
