package main

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// kubeletFlagUse says why bosun run accepts a kubelet flag it does not use.
type kubeletFlagUse int

const (
	// kubeletOnly is a flag of a kubelet feature bosun does not have.
	kubeletOnly kubeletFlagUse = iota
	// nodeRegistration configures a part of the kubelet's Node or API client
	// that bosun's Node does not have (it takes no pods from the API and
	// serves no kubelet API).
	nodeRegistration
	// runtimeSetting is set in the container runtime's own configuration.
	runtimeSetting
)

// kubeletFlag is a kubelet flag bosun run accepts and ignores.
type kubeletFlag struct {
	name string
	use  kubeletFlagUse
	// boolean flags take no value ("--fail-swap-on" is "--fail-swap-on=true").
	boolean bool
}

// kubeletFlags are the kubelet's flags (v1.37.2's, and the ones older kubeadm
// versions wrote to kubeadm-flags.env) that bosun run accepts so that the
// kubelet's command line, kubeadm's flags file included, starts bosun. The
// kubelet flags bosun uses are bosun run's own flags of the same names:
// --config, --pod-manifest-path, --file-check-frequency, --sync-frequency,
// --hostname-override, --node-ip, --container-runtime-endpoint,
// --cgroup-driver, --root-dir, --resolv-conf, --cluster-dns,
// --cluster-domain, --container-log-max-size, --container-log-max-files,
// --healthz-bind-address, --image-credential-provider-config,
// --image-credential-provider-bin-dir, -v, and those of the API side:
// --kubeconfig, --bootstrap-kubeconfig, --cert-dir, --rotate-certificates,
// --node-labels, --register-with-taints, --node-status-update-frequency,
// --kube-api-qps and --kube-api-burst; a flag bosun defines itself is never
// taken from this table.
var kubeletFlags = kubeletFlagTable(map[kubeletFlagUse]string{
	nodeRegistration: `register-node? rotate-server-certificates? node-status-max-images kube-api-content-type
		event-qps event-burst provider-id cloud-provider pod-cidr max-pods pods-per-core
		enable-controller-attach-detach?`,
	runtimeSetting: `pod-infra-container-image container-runtime network-plugin cni-bin-dir cni-conf-dir
		cni-cache-dir image-service-endpoint runtime-cgroups`,
	kubeletOnly: `address port read-only-port enable-server? anonymous-auth? authentication-token-webhook?
		authentication-token-webhook-cache-ttl authorization-mode authorization-webhook-cache-authorized-ttl
		authorization-webhook-cache-unauthorized-ttl client-ca-file tls-cert-file tls-private-key-file
		tls-cipher-suites tls-min-version enable-debugging-handlers? contention-profiling?
		streaming-connection-idle-timeout healthz-port config-dir manifest-url manifest-url-header
		http-check-frequency allowed-unsafe-sysctls cgroup-root cgroups-per-qos? kubelet-cgroups
		system-cgroups kube-reserved kube-reserved-cgroup system-reserved system-reserved-cgroup
		enforce-node-allocatable reserved-cpus reserved-memory qos-reserved cpu-cfs-quota?
		cpu-cfs-quota-period cpu-manager-policy cpu-manager-policy-options cpu-manager-reconcile-period
		memory-manager-policy topology-manager-policy topology-manager-policy-options
		topology-manager-scope eviction-hard eviction-soft eviction-soft-grace-period
		eviction-minimum-reclaim eviction-pressure-transition-period eviction-max-pod-grace-period
		experimental-allocatable-ignore-eviction? experimental-mounter-path fail-cgroupv1? fail-swap-on?
		feature-gates hairpin-mode image-credential-provider-bin-dir image-credential-provider-config
		image-gc-high-threshold image-gc-low-threshold minimum-image-ttl-duration
		minimum-container-ttl-duration maximum-dead-containers maximum-dead-containers-per-container
		kernel-memcg-notification? local-storage-capacity-isolation? lock-file exit-on-lock-contention?
		make-iptables-util-chains? max-open-files oom-score-adj pod-max-pids protect-kernel-defaults?
		registry-qps registry-burst runonce? runtime-request-timeout seccomp-default?
		serialize-image-pulls? volume-plugin-dir volume-stats-agg-period housekeeping-interval
		logging-format vmodule log-flush-frequency log-text-split-stream? log-text-info-buffer-size
		log-json-split-stream? log-json-info-buffer-size`,
})

// kubeletFlagTable reads the table of kubelet flags: names separated by
// white space, a boolean one ending in "?".
func kubeletFlagTable(names map[kubeletFlagUse]string) []kubeletFlag {
	var flags []kubeletFlag
	for use, list := range names {
		for _, name := range strings.Fields(list) {
			n, boolean := strings.CutSuffix(name, "?")
			flags = append(flags, kubeletFlag{name: n, use: use, boolean: boolean})
		}
	}
	slices.SortFunc(flags, func(a, b kubeletFlag) int { return strings.Compare(a.name, b.name) })
	return flags
}

// ignoredValue is the value of an accepted kubelet flag: any text, or a
// boolean for a boolean flag, as the kubelet would parse it.
type ignoredValue struct {
	boolean bool
	value   string
}

func (v *ignoredValue) String() string { return v.value }

func (v *ignoredValue) Set(s string) error {
	if v.boolean {
		if _, err := strconv.ParseBool(s); err != nil {
			return fmt.Errorf("not a boolean: %w", err)
		}
	}
	v.value = s
	return nil
}

func (v *ignoredValue) Type() string {
	if v.boolean {
		return "bool"
	}
	return "string"
}

// addKubeletFlags makes cmd accept every flag of kubeletFlags that it does not
// define itself, hidden from its flag list, and says so in its help.
func addKubeletFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	for _, k := range kubeletFlags {
		if fs.Lookup(k.name) != nil {
			continue
		}
		f := fs.VarPF(&ignoredValue{boolean: k.boolean}, k.name, "", "kubelet flag, ignored")
		if k.boolean {
			f.NoOptDefVal = "true"
		}
		_ = fs.MarkHidden(k.name)
	}
	cmd.Long = cmd.Short + `.

bosun run also accepts the kubelet's other flags, so that the kubelet's command line (kubeadm's
kubeadm-flags.env included: examples/systemd/10-kubeadm.conf) starts it: each one bosun has no use
for is named in a warning when bosun starts.`
}

// ignoredKubeletFlags names, by use, the flags of kubeletFlags set on fs.
func ignoredKubeletFlags(fs *pflag.FlagSet) map[kubeletFlagUse][]string {
	set := map[kubeletFlagUse][]string{}
	for _, k := range kubeletFlags {
		f := fs.Lookup(k.name)
		if f != nil && f.Changed {
			if _, ours := f.Value.(*ignoredValue); ours {
				set[k.use] = append(set[k.use], "--"+k.name)
			}
		}
	}
	return set
}

// warnKubeletFlags logs one warning for each use of the kubelet flags set on
// fs that bosun ignores, naming them.
func warnKubeletFlags(log *slog.Logger, fs *pflag.FlagSet) {
	set := ignoredKubeletFlags(fs)
	for _, w := range []struct {
		use kubeletFlagUse
		msg string
	}{
		{nodeRegistration, "kubelet flags of Node features bosun does not have are ignored: its Node takes no pods from the API server and serves no kubelet API"},
		{runtimeSetting, "kubelet flags of the container runtime's settings are ignored: set them in the runtime (containerd's sandbox image and CNI configuration)"},
		{kubeletOnly, "kubelet flags bosun has no use for are ignored"},
	} {
		if flags := set[w.use]; len(flags) > 0 {
			log.Warn(w.msg, "flags", strings.Join(flags, ","))
		}
	}
}

// primaryNodeIP is the node's IP of a --node-ip the kubelet accepts: one IP,
// or two of different families (dual-stack), the first of which is the
// node's primary IP, the one bosun uses.
func primaryNodeIP(s string) (string, error) {
	ips := strings.Split(s, ",")
	if len(ips) > 2 {
		return "", fmt.Errorf("--node-ip %q: at most two IPs, one of each family", s)
	}
	for _, ip := range ips {
		if net.ParseIP(ip) == nil && len(ips) == 1 {
			return "", fmt.Errorf("--node-ip %q: not an IP address", s)
		}
		if net.ParseIP(ip) == nil {
			return "", fmt.Errorf("--node-ip %q: %q is not an IP address", s, ip)
		}
	}
	if len(ips) == 2 && (net.ParseIP(ips[0]).To4() == nil) == (net.ParseIP(ips[1]).To4() == nil) {
		return "", fmt.Errorf("--node-ip %q: two IPs must be one IPv4 and one IPv6 (dual-stack)", s)
	}
	return ips[0], nil
}
