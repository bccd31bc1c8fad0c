package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestReadResolvConf(t *testing.T) {
	for _, tc := range []struct {
		name, conf              string
		servers, searches, opts string
		err                     string
	}{
		{"nameservers, searches and options are read in order", "# generated\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example lab.example\noptions ndots:2 timeout:1\n",
			"192.0.2.53,192.0.2.54", "corp.example,lab.example", "ndots:2,timeout:1", ""},
		{"the last search line wins, trailing dots are trimmed and the root search is dropped", "search old.example\nsearch new.example. .\n",
			"", "new.example", "", ""},
		{"domain lines are ignored, as the kubelet ignores them", "domain corp.example\nnameserver 127.0.0.53\n", "127.0.0.53", "", "", ""},
		{"a later option replaces an earlier one of the same name", "options ndots:2 rotate\noptions ndots:3\n", "", "", "ndots:3,rotate", ""},
		{"a nameserver without an address is an error naming the line", "nameserver\n", "", "", "", "line 1: nameserver without an address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "resolv.conf")
			if err := os.WriteFile(p, []byte(tc.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadResolvConf(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), p) {
					t.Errorf("error %v, want one naming %s and %q", err, p, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s, q, o := strings.Join(got.Servers, ","), strings.Join(got.Searches, ","), strings.Join(got.Options, ","); s != tc.servers || q != tc.searches || o != tc.opts {
				t.Errorf("servers %q searches %q options %q, want %q %q %q", s, q, o, tc.servers, tc.searches, tc.opts)
			}
		})
	}
	if _, err := ReadResolvConf("/nonexistent/resolv.conf"); err == nil || !strings.Contains(err.Error(), "/nonexistent/resolv.conf") {
		t.Errorf("missing file: %v, want an error naming it", err)
	}
}

func TestDNSConfig(t *testing.T) {
	hostDNS := &runtimeapi.DNSConfig{Servers: []string{"192.0.2.53"}, Searches: []string{"corp.example"}, Options: []string{"ndots:2", "edns0"}}
	withHost := testNode
	withHost.DNS = hostDNS
	cluster := withHost
	cluster.ClusterDNS, cluster.ClusterDomain = []string{"10.96.0.10"}, "cluster.local"
	noResolvConf := testNode
	noResolvConf.DNS = nil
	long := strings.Repeat("a", 254)
	many := make([]string, 40)
	for i := range many {
		many[i] = strings.Repeat("a", 60) + fmt.Sprintf("%02d.example", i) // 70 characters
	}
	for _, tc := range []struct {
		name                    string
		spec                    string
		node                    Node
		servers, searches, opts string
	}{
		{"ClusterFirst with a cluster DNS uses it, with the cluster searches before the host's and ndots:5", "hostNetwork: false", cluster,
			"10.96.0.10", "kube-system.svc.cluster.local,svc.cluster.local,cluster.local,corp.example", "ndots:5"},
		{"ClusterFirst without a cluster DNS gets the host's resolvers", "hostNetwork: false", withHost,
			"192.0.2.53", "corp.example", "ndots:2,edns0"},
		{"a hostNetwork ClusterFirst pod gets the host's resolvers even with a cluster DNS", "hostNetwork: true", cluster,
			"192.0.2.53", "corp.example", "ndots:2,edns0"},
		{"ClusterFirstWithHostNet uses the cluster DNS on the host network", "hostNetwork: true\n  dnsPolicy: ClusterFirstWithHostNet", cluster,
			"10.96.0.10", "kube-system.svc.cluster.local,svc.cluster.local,cluster.local,corp.example", "ndots:5"},
		{"a cluster DNS without a cluster domain keeps the host's searches only", "hostNetwork: false", Node{ClusterDNS: []string{"10.96.0.10"}, DNS: hostDNS},
			"10.96.0.10", "corp.example", "ndots:5"},
		{"Default gets the host's resolvers, sent explicitly", "dnsPolicy: Default", withHost,
			"192.0.2.53", "corp.example", "ndots:2,edns0"},
		{"None gets dnsConfig alone", "dnsPolicy: None\n  dnsConfig: {nameservers: [192.0.2.1], options: [{name: attempts, value: \"3\"}]}", cluster,
			"192.0.2.1", "", "attempts:3"},
		{"dnsConfig is merged without duplicates and its options replace the host's by name",
			"dnsPolicy: Default\n  dnsConfig: {nameservers: [192.0.2.53, 192.0.2.54], searches: [corp.example, extra.example], options: [{name: ndots, value: \"1\"}, {name: rotate}]}", withHost,
			"192.0.2.53,192.0.2.54", "corp.example,extra.example", "ndots:1,edns0,rotate"},
		{"more than 3 nameservers are cut to the first 3", "dnsPolicy: Default\n  dnsConfig: {nameservers: [192.0.2.1, 192.0.2.2, 192.0.2.3]}", withHost,
			"192.0.2.53,192.0.2.1,192.0.2.2", "corp.example", "ndots:2,edns0"},
		{"a search over 253 characters is dropped", "dnsPolicy: None\n  dnsConfig: {nameservers: [192.0.2.1], searches: [" + long + ", ok.example]}", withHost,
			"192.0.2.1", "ok.example", ""},
		{"searches past the 32nd and past 2048 characters are dropped from the end", "dnsPolicy: None\n  dnsConfig: {nameservers: [192.0.2.1], searches: [" + strings.Join(many, ", ") + "]}", withHost,
			"192.0.2.1", strings.Join(many[:28], ","), ""},
		{"without a resolv.conf the host's resolver is 127.0.0.1 with the root search", "dnsPolicy: Default", noResolvConf,
			"127.0.0.1", ".", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := staticPod(t, strings.Replace(podYAML, "%s", tc.spec, 1))
			got := SandboxConfig(sp, 0, tc.node, t0).DnsConfig
			if got == nil {
				t.Fatal("no DNS config: the runtime would copy its own host's /etc/resolv.conf")
			}
			if s, q, o := strings.Join(got.Servers, ","), strings.Join(got.Searches, ","), strings.Join(got.Options, ","); s != tc.servers || q != tc.searches || o != tc.opts {
				t.Errorf("servers %q\nsearches %q\noptions %q\nwant %q\n%q\n%q", s, q, o, tc.servers, tc.searches, tc.opts)
			}
			if len(strings.Join(got.Searches, " ")) > 2048 {
				t.Errorf("search line of %d characters", len(strings.Join(got.Searches, " ")))
			}
		})
	}
}

func TestMissingClusterDNS(t *testing.T) {
	cluster := testNode
	cluster.ClusterDNS = []string{"10.96.0.10"}
	for _, tc := range []struct {
		name string
		spec string
		node Node
		want bool
	}{
		{"a pod-network ClusterFirst pod misses a cluster DNS the node lacks", "hostNetwork: false", testNode, true},
		{"a hostNetwork ClusterFirst pod does not ask for one", "hostNetwork: true", testNode, false},
		{"ClusterFirstWithHostNet asks for one", "hostNetwork: true\n  dnsPolicy: ClusterFirstWithHostNet", testNode, true},
		{"nothing is missing when the node has one", "hostNetwork: false", cluster, false},
		{"Default never asks for one", "dnsPolicy: Default", testNode, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := staticPod(t, strings.Replace(podYAML, "%s", tc.spec, 1))
			if got := MissingClusterDNS(sp.Pod, tc.node); got != tc.want {
				t.Errorf("MissingClusterDNS = %v, want %v", got, tc.want)
			}
		})
	}
}
