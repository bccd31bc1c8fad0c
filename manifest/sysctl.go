package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// SafeSysctls are the sysctls the kubelet allows every pod
// (pkg/kubelet/sysctl/safe_sysctls.go): namespaced, and with no effect on
// other pods. The kubelet drops those the running kernel lacks; bosun leaves
// that to the runtime, which refuses a sysctl the kernel does not have.
var SafeSysctls = []string{
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
	"net.ipv4.tcp_slow_start_after_idle",
	"net.ipv4.tcp_notsent_lowat",
}

// sysctlNamespace is the kernel namespace a sysctl belongs to.
type sysctlNamespace int

const (
	nsUnknown sysctlNamespace = iota
	nsIPC
	nsNet
)

func (n sysctlNamespace) String() string {
	switch n {
	case nsIPC:
		return "IPC"
	case nsNet:
		return "network"
	}
	return "unknown"
}

// namespaceOf is the namespace of a sysctl, or of the sysctls that start
// with a prefix, as the kubelet knows them (component-helpers' NamespacedBy).
func namespaceOf(name string) sysctlNamespace {
	switch {
	case name == "kernel.sem", strings.HasPrefix(name, "kernel.shm"), strings.HasPrefix(name, "kernel.msg"), strings.HasPrefix(name, "fs.mqueue."):
		return nsIPC
	case strings.HasPrefix(name, "net."):
		return nsNet
	}
	return nsUnknown
}

// dotted turns a sysctl written with slashes (net/ipv4/ip_forward) into
// its dotted form, keeping dots inside a part (an interface eth0.100) as
// slashes, as the kubelet does; a dotted name is returned as it is.
func dotted(name string) string {
	i := strings.IndexAny(name, "./")
	if i < 0 || name[i] == '.' {
		return name
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, name)
}

// CheckSysctlPatterns checks the kubelet's allowedUnsafeSysctls: each entry
// is a sysctl name, or a prefix ending in "*", known to be namespaced (the
// kubelet refuses to start otherwise).
func CheckSysctlPatterns(patterns []string) error {
	var errs []error
	for _, p := range patterns {
		name := dotted(p)
		prefix, isPattern := strings.CutSuffix(name, "*")
		if !sysctlName.MatchString(strings.TrimSuffix(prefix, ".")) || strings.Contains(prefix, "*") {
			errs = append(errs, fmt.Errorf("%q is not a sysctl name or a prefix ending in *", p))
			continue
		}
		if namespaceOf(prefix) == nsUnknown {
			what := "the sysctl %q is"
			if isPattern {
				what = "the sysctls %q are"
			}
			errs = append(errs, fmt.Errorf(what+" not known to be namespaced", p))
		}
	}
	return errors.Join(errs...)
}

// AdmitSysctls refuses, as the kubelet's sysctl admission does, a pod
// with a sysctl that is neither safe nor allowed by allowedUnsafe (names and
// prefixes ending in "*", checked by CheckSysctlPatterns), and a network or
// IPC sysctl in a pod that shares that namespace with the host. Its error
// is a *FileError of the pod's file naming each sysctl's field.
func AdmitSysctls(sp *StaticPod, allowedUnsafe []string) error {
	psc := sp.Pod.Spec.SecurityContext
	if psc == nil || len(psc.Sysctls) == 0 {
		return nil
	}
	fe := &FileError{File: sp.File}
	for i, s := range psc.Sysctls {
		field := fmt.Sprintf("spec.securityContext.sysctls[%d].name", i)
		name := dotted(s.Name)
		if !sysctlAllowed(name, allowedUnsafe) {
			fe.Problems = append(fe.Problems, &FieldError{Field: field,
				Msg: fmt.Sprintf("forbidden sysctl %q: not a safe sysctl and not in allowedUnsafeSysctls (--allowed-unsafe-sysctls)", s.Name)})
			continue
		}
		switch ns := namespaceOf(name); {
		case ns == nsNet && sp.Pod.Spec.HostNetwork, ns == nsIPC && sp.Pod.Spec.HostIPC:
			fe.Problems = append(fe.Problems, &FieldError{Field: field,
				Msg: fmt.Sprintf("forbidden sysctl %q: not allowed with the host's %s namespace (host%s)", s.Name, ns, map[sysctlNamespace]string{nsNet: "Network", nsIPC: "IPC"}[ns])})
		}
	}
	if len(fe.Problems) == 0 {
		return nil
	}
	return fe
}

// sysctlAllowed reports whether a dotted sysctl name is safe or matches
// allowedUnsafe.
func sysctlAllowed(name string, allowedUnsafe []string) bool {
	for _, s := range SafeSysctls {
		if name == s {
			return true
		}
	}
	for _, p := range allowedUnsafe {
		p = dotted(p)
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, prefix) || name == p {
			return true
		}
	}
	return false
}
