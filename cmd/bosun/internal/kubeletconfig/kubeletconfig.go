// Package kubeletconfig reads the fields of a KubeletConfiguration file
// (kubelet.config.k8s.io/v1beta1) that bosun has a use for, so an existing
// kubelet config, such as the one `kubeadm init phase kubelet-start` writes,
// works with `bosun run --config`. It refuses only what is malformed; fields
// bosun has no use for are listed in Config.Ignored for one warning.
package kubeletconfig

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// Kubelet defaults that apply when the file sets one half of the healthz
// address but not the other.
const (
	DefaultHealthzBindAddress = "127.0.0.1"
	DefaultHealthzPort        = 10248
)

// Config holds the honoured fields. A zero value means "not set, take the
// default": the kubelet reads zero durations ("0s", as kubeadm writes them)
// the same way.
type Config struct {
	StaticPodPath            string
	ContainerRuntimeEndpoint string
	PodLogsDir               string
	FileCheckFrequency       time.Duration
	SyncFrequency            time.Duration
	// HealthzSet says whether the file sets healthzBindAddress or
	// healthzPort; HealthzAddress is then host:port, or "" for healthzPort 0
	// (off, as the kubelet).
	HealthzSet     bool
	HealthzAddress string
	// ContainerLogMaxSize is in bytes.
	ContainerLogMaxSize  int64
	ContainerLogMaxFiles int
	CgroupDriver         string
	ResolvConf           string
	// MaxContainerRestartPeriod is crashLoopBackOff.maxContainerRestartPeriod.
	MaxContainerRestartPeriod time.Duration
	ClusterDNS                []string
	ClusterDomain             string
	// PodPidsLimit is podPidsLimit, the pids.max of each pod's cgroup;
	// 0 (and the kubelet's -1) mean no limit.
	PodPidsLimit int64
	// CPUCFSQuota is cpuCFSQuota, nil when the file does not set it;
	// CPUCFSQuotaPeriod is cpuCFSQuotaPeriod (1ms to 1s).
	CPUCFSQuota       *bool
	CPUCFSQuotaPeriod time.Duration
	// SerializeImagePulls is serializeImagePulls, nil when the file does not
	// set it; MaxParallelImagePulls is maxParallelImagePulls (0: not set).
	SerializeImagePulls   *bool
	MaxParallelImagePulls int32
	// RuntimeRequestTimeout is runtimeRequestTimeout, the deadline of each
	// CRI call.
	RuntimeRequestTimeout time.Duration
	// ImageServiceEndpoint is imageServiceEndpoint.
	ImageServiceEndpoint string
	// SeccompDefault is seccompDefault, nil when the file does not set it.
	SeccompDefault *bool
	// AllowedUnsafeSysctls is allowedUnsafeSysctls: names and prefixes
	// ending in "*".
	AllowedUnsafeSysctls []string
	// ImageGCHighThresholdPercent and ImageGCLowThresholdPercent are
	// imageGCHighThresholdPercent and imageGCLowThresholdPercent, nil when
	// the file does not set them.
	ImageGCHighThresholdPercent *int32
	ImageGCLowThresholdPercent  *int32
	// ImageMinimumGCAge and ImageMaximumGCAge are imageMinimumGCAge (0: the
	// default) and imageMaximumGCAge (0: off).
	ImageMinimumGCAge time.Duration
	ImageMaximumGCAge time.Duration
	// RotateCertificates is rotateCertificates, nil when the file does not
	// set it.
	RotateCertificates *bool
	// RegisterWithTaints is registerWithTaints, nil when the file does not
	// set it.
	RegisterWithTaints []corev1.Taint
	// NodeStatusUpdateFrequency, NodeStatusReportFrequency and
	// NodeLeaseDuration (nodeLeaseDurationSeconds) pace the Node's status
	// and Lease; 0: the default.
	NodeStatusUpdateFrequency time.Duration
	NodeStatusReportFrequency time.Duration
	NodeLeaseDuration         time.Duration
	// KubeAPIQPS and KubeAPIBurst bound the API client; 0: the default.
	KubeAPIQPS   float32
	KubeAPIBurst int
	// Ignored lists, sorted, the fields the file sets to something other than
	// a zero value that bosun has no use for.
	Ignored []string
}

// field decodes one top-level field of the file into c.
type field func(c *Config, raw json.RawMessage) error

var fields = map[string]field{
	"apiVersion":               nil, // checked by Load
	"kind":                     nil,
	"staticPodPath":            str(func(c *Config) *string { return &c.StaticPodPath }),
	"containerRuntimeEndpoint": str(func(c *Config) *string { return &c.ContainerRuntimeEndpoint }),
	"podLogsDir": func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &c.PodLogsDir); err != nil {
			return errWant("a string")
		}
		if c.PodLogsDir != "" && !filepath.IsAbs(c.PodLogsDir) {
			return fmt.Errorf("%q is not an absolute path", c.PodLogsDir)
		}
		return nil
	},
	"fileCheckFrequency": dur(func(c *Config) *time.Duration { return &c.FileCheckFrequency }),
	"syncFrequency":      dur(func(c *Config) *time.Duration { return &c.SyncFrequency }),
	// httpCheckFrequency only paces staticPodURL, which bosun refuses: it is
	// checked, and listed as ignored when set.
	"httpCheckFrequency": func(c *Config, raw json.RawMessage) error {
		var d time.Duration
		if err := dur(func(*Config) *time.Duration { return &d })(c, raw); err != nil {
			return err
		}
		if d != 0 {
			c.Ignored = append(c.Ignored, "httpCheckFrequency")
		}
		return nil
	},
	"staticPodURL": func(c *Config, raw json.RawMessage) error {
		var u string
		if err := json.Unmarshal(raw, &u); err != nil {
			return errWant("a string")
		}
		if u != "" {
			return fmt.Errorf("%q: bosun reads pods only from staticPodPath (--pod-manifest-path); fetch the manifests there", u)
		}
		return nil
	},
	"healthzBindAddress": func(c *Config, raw json.RawMessage) error {
		var a string
		if err := json.Unmarshal(raw, &a); err != nil {
			return errWant("a string")
		}
		if a != "" && net.ParseIP(a) == nil {
			return fmt.Errorf("%q is not an IP address", a)
		}
		return nil // combined with healthzPort by Load
	},
	"healthzPort": func(c *Config, raw json.RawMessage) error {
		var p int
		if err := json.Unmarshal(raw, &p); err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("%s is not a port number (0 turns /healthz off)", raw)
		}
		return nil
	},
	"containerLogMaxSize": func(c *Config, raw json.RawMessage) error {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return errWant("a quantity such as 10Mi")
		}
		if s == "" {
			return nil
		}
		q, err := resource.ParseQuantity(s)
		if err != nil || q.Sign() <= 0 {
			return fmt.Errorf("%q is not a positive quantity such as 10Mi", s)
		}
		c.ContainerLogMaxSize = q.Value()
		return nil
	},
	"containerLogMaxFiles": func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &c.ContainerLogMaxFiles); err != nil || c.ContainerLogMaxFiles < 2 {
			return fmt.Errorf("%s: must be a number of at least 2", raw)
		}
		return nil
	},
	"cgroupDriver": func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &c.CgroupDriver); err != nil {
			return errWant("a string")
		}
		if c.CgroupDriver != "" && c.CgroupDriver != "cgroupfs" && c.CgroupDriver != "systemd" {
			return fmt.Errorf("%q: must be cgroupfs or systemd", c.CgroupDriver)
		}
		return nil
	},
	"resolvConf":    str(func(c *Config) *string { return &c.ResolvConf }),
	"clusterDomain": str(func(c *Config) *string { return &c.ClusterDomain }),
	"clusterDNS": func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &c.ClusterDNS); err != nil {
			return errWant("a list of IP addresses")
		}
		for _, ip := range c.ClusterDNS {
			if net.ParseIP(ip) == nil {
				return fmt.Errorf("%q is not an IP address", ip)
			}
		}
		return nil
	},
	"podPidsLimit": func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &c.PodPidsLimit); err != nil || c.PodPidsLimit < -1 {
			return fmt.Errorf("%s: must be a number of processes, or -1 for no limit", raw)
		}
		c.PodPidsLimit = max(c.PodPidsLimit, 0)
		return nil
	},
	"cpuCFSQuota": boolean(func(c *Config) **bool { return &c.CPUCFSQuota }),
	"cpuCFSQuotaPeriod": func(c *Config, raw json.RawMessage) error {
		if err := dur(func(c *Config) *time.Duration { return &c.CPUCFSQuotaPeriod })(c, raw); err != nil {
			return err
		}
		if d := c.CPUCFSQuotaPeriod; d != 0 && (d < time.Millisecond || d > time.Second) {
			return fmt.Errorf("%v is not between 1ms and 1s", d)
		}
		return nil
	},
	"serializeImagePulls": boolean(func(c *Config) **bool { return &c.SerializeImagePulls }),
	"maxParallelImagePulls": func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &c.MaxParallelImagePulls); err != nil || c.MaxParallelImagePulls < 0 {
			return fmt.Errorf("%s: must be a positive number", raw)
		}
		return nil
	},
	"runtimeRequestTimeout": dur(func(c *Config) *time.Duration { return &c.RuntimeRequestTimeout }),
	"imageServiceEndpoint":  str(func(c *Config) *string { return &c.ImageServiceEndpoint }),
	"seccompDefault":        boolean(func(c *Config) **bool { return &c.SeccompDefault }),
	"allowedUnsafeSysctls": func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &c.AllowedUnsafeSysctls); err != nil {
			return errWant("a list of sysctl names or prefixes ending in *")
		}
		return nil
	},
	"imageGCHighThresholdPercent": percent(func(c *Config) **int32 { return &c.ImageGCHighThresholdPercent }),
	"imageGCLowThresholdPercent":  percent(func(c *Config) **int32 { return &c.ImageGCLowThresholdPercent }),
	"imageMinimumGCAge":           dur(func(c *Config) *time.Duration { return &c.ImageMinimumGCAge }),
	"imageMaximumGCAge":           dur(func(c *Config) *time.Duration { return &c.ImageMaximumGCAge }),
	"rotateCertificates":          boolean(func(c *Config) **bool { return &c.RotateCertificates }),
	"registerWithTaints": func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &c.RegisterWithTaints); err != nil {
			return errWant("a list of taints (key, value, effect)")
		}
		for _, t := range c.RegisterWithTaints {
			switch t.Effect {
			case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
			default:
				return fmt.Errorf("taint %q: effect %q must be NoSchedule, PreferNoSchedule or NoExecute", t.Key, t.Effect)
			}
		}
		if c.RegisterWithTaints == nil {
			c.RegisterWithTaints = []corev1.Taint{}
		}
		return nil
	},
	"nodeStatusUpdateFrequency": dur(func(c *Config) *time.Duration { return &c.NodeStatusUpdateFrequency }),
	"nodeStatusReportFrequency": dur(func(c *Config) *time.Duration { return &c.NodeStatusReportFrequency }),
	"nodeLeaseDurationSeconds": func(c *Config, raw json.RawMessage) error {
		var s int32
		if err := json.Unmarshal(raw, &s); err != nil || s < 0 {
			return errWant("a number of seconds")
		}
		c.NodeLeaseDuration = time.Duration(s) * time.Second
		return nil
	},
	"kubeAPIQPS": func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &c.KubeAPIQPS); err != nil || c.KubeAPIQPS < 0 {
			return errWant("a positive number")
		}
		return nil
	},
	"kubeAPIBurst": func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &c.KubeAPIBurst); err != nil || c.KubeAPIBurst < 0 {
			return errWant("a positive number")
		}
		return nil
	},
	"crashLoopBackOff": func(c *Config, raw json.RawMessage) error {
		var b map[string]json.RawMessage
		if err := json.Unmarshal(raw, &b); err != nil {
			return errWant("an object")
		}
		for k, v := range b {
			if k != "maxContainerRestartPeriod" {
				if !zero(v) {
					c.Ignored = append(c.Ignored, "crashLoopBackOff."+k)
				}
				continue
			}
			if err := dur(func(c *Config) *time.Duration { return &c.MaxContainerRestartPeriod })(c, v); err != nil {
				return fmt.Errorf("maxContainerRestartPeriod: %w", err)
			}
			if d := c.MaxContainerRestartPeriod; d != 0 && (d < time.Second || d > 300*time.Second) {
				return fmt.Errorf("maxContainerRestartPeriod: %v is not between 1s and 300s", d)
			}
		}
		return nil
	},
}

func errWant(what string) error { return fmt.Errorf("want %s", what) }

func str(dst func(*Config) *string) field {
	return func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, dst(c)); err != nil {
			return errWant("a string")
		}
		return nil
	}
}

// boolean decodes a boolean that may be left out; null leaves it nil.
func boolean(dst func(*Config) **bool) field {
	return func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, dst(c)); err != nil {
			return errWant("true or false")
		}
		return nil
	}
}

// percent decodes a percentage from 0 to 100 that may be left out; null
// leaves it nil.
func percent(dst func(*Config) **int32) field {
	return func(c *Config, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, dst(c)); err != nil {
			return errWant("a percentage from 0 to 100")
		}
		if p := *dst(c); p != nil && (*p < 0 || *p > 100) {
			return fmt.Errorf("%d is not a percentage from 0 to 100", *p)
		}
		return nil
	}
}

// dur decodes a duration; "0s" (and an empty string) leave it zero, the
// default, as the kubelet reads them.
func dur(dst func(*Config) *time.Duration) field {
	return func(c *Config, raw json.RawMessage) error {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return errWant("a duration such as 20s")
		}
		if s == "" {
			return nil
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration such as 20s (0s means the default)", s)
		}
		*dst(c) = d
		return nil
	}
}

// zero reports whether a JSON value is empty: null, "", 0, false, "0s",
// "0", or an object or list of nothing but such values (kubeadm writes
// `logging: {flushFrequency: 0, ...}` and `memorySwap: {}` that way).
func zero(raw json.RawMessage) bool {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return false
	}
	var isZero func(v any) bool
	isZero = func(v any) bool {
		switch x := v.(type) {
		case nil:
			return true
		case string:
			return x == "" || x == "0" || x == "0s"
		case float64:
			return x == 0
		case bool:
			return !x
		case []any:
			for _, e := range x {
				if !isZero(e) {
					return false
				}
			}
			return true
		case map[string]any:
			for _, e := range x {
				if !isZero(e) {
					return false
				}
			}
			return true
		}
		return false
	}
	return isZero(v)
}

// Load reads path. Errors name the file and the field.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		return Config{}, fmt.Errorf("config %s: not a KubeletConfiguration object: %w", path, err)
	}
	var apiVersion, kind string
	_ = json.Unmarshal(top["apiVersion"], &apiVersion)
	_ = json.Unmarshal(top["kind"], &kind)
	if kind != "KubeletConfiguration" || apiVersion != "kubelet.config.k8s.io/v1beta1" {
		return Config{}, fmt.Errorf("config %s: want kind KubeletConfiguration of apiVersion kubelet.config.k8s.io/v1beta1, got %q %q", path, kind, apiVersion)
	}
	var c Config
	for name, raw := range top {
		decode, known := fields[name]
		switch {
		case !known:
			if !zero(raw) {
				c.Ignored = append(c.Ignored, name)
			}
		case decode != nil:
			if err := decode(&c, raw); err != nil {
				return Config{}, fmt.Errorf("config %s: %s: %w", path, name, err)
			}
		}
	}
	c.healthz(top)
	if c.SerializeImagePulls != nil && *c.SerializeImagePulls && c.MaxParallelImagePulls > 1 {
		return Config{}, fmt.Errorf("config %s: maxParallelImagePulls: %d needs serializeImagePulls false", path, c.MaxParallelImagePulls)
	}
	sort.Strings(c.Ignored)
	return c, nil
}

// healthz combines healthzBindAddress and healthzPort (both already
// checked) with the kubelet's defaults for the half the file leaves out.
// An empty or null value counts as not set.
func (c *Config) healthz(top map[string]json.RawMessage) {
	var addr string
	var port *int
	_ = json.Unmarshal(top["healthzBindAddress"], &addr)
	_ = json.Unmarshal(top["healthzPort"], &port)
	if addr == "" && port == nil {
		return
	}
	if addr == "" {
		addr = DefaultHealthzBindAddress
	}
	if port == nil {
		p := DefaultHealthzPort
		port = &p
	}
	c.HealthzSet = true
	if *port != 0 {
		c.HealthzAddress = net.JoinHostPort(addr, strconv.Itoa(*port))
	}
}
