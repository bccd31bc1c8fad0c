package main

import (
	"fmt"
	"log/slog"
	rtdebug "runtime/debug"
	"strings"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/agent"
)

// apiSideFlags configure the API side (package agent): the kubelet's flags
// of its API client and of its Node. Without --kubeconfig bosun talks to no
// API server.
type apiSideFlags struct {
	kubeconfig          string
	bootstrapKubeconfig string
	certDir             string
	rotateCertificates  bool
	nodeLabels          string
	registerWithTaints  string
	// taints are the taints of the KubeletConfiguration's
	// registerWithTaints, when no flag sets them.
	taints                []corev1.Taint
	statusUpdateFrequency time.Duration
	statusReportFrequency time.Duration
	leaseDuration         time.Duration
	qps                   float32
	burst                 int
}

func (a *apiSideFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&a.kubeconfig, "kubeconfig", "", "kubeconfig of this node's API client (the kubelet's, e.g. /etc/kubernetes/kubelet.conf): with it bosun registers its Node, keeps its Lease, mirror pods and events; empty: no API server")
	fs.StringVar(&a.bootstrapKubeconfig, "bootstrap-kubeconfig", "", "kubeconfig that requests this node's client certificate (TLS bootstrap) when --kubeconfig does not exist yet; bosun then writes --kubeconfig")
	fs.StringVar(&a.certDir, "cert-dir", "/var/lib/kubelet/pki", "directory of the node's client certificate (kubelet-client-current.pem)")
	fs.BoolVar(&a.rotateCertificates, "rotate-certificates", false, "renew the node's client certificate through the API before it expires")
	fs.StringVar(&a.nodeLabels, "node-labels", "", "labels of the Node (key=value,...), added to kubernetes.io/hostname, os and arch")
	fs.StringVar(&a.registerWithTaints, "register-with-taints", "", "taints the Node registers with (key=value:Effect,...)")
	fs.DurationVar(&a.statusUpdateFrequency, "node-status-update-frequency", 10*time.Second, "how often the Node's status is computed (and posted when it changed)")
	fs.Float32Var(&a.qps, "kube-api-qps", 50, "queries per second to the API server")
	fs.IntVar(&a.burst, "kube-api-burst", 100, "burst of queries to the API server")
	a.statusReportFrequency = 5 * time.Minute
	a.leaseDuration = 40 * time.Second
}

// agentConfig is the agent's configuration of these flags, nil without
// --kubeconfig; API-side flags given without it are an error.
func (a *apiSideFlags) agentConfig(fs *pflag.FlagSet) (*agent.Config, error) {
	if a.kubeconfig == "" {
		for _, name := range []string{"bootstrap-kubeconfig", "node-labels", "register-with-taints", "rotate-certificates"} {
			if fs.Changed(name) {
				return nil, &usageError{fmt.Sprintf("--%s needs --kubeconfig: bosun talks to the API server only with one", name)}
			}
		}
		return nil, nil
	}
	labels, err := agent.ParseNodeLabels(a.nodeLabels)
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	taints := a.taints
	if fs.Changed("register-with-taints") || taints == nil {
		if taints, err = agent.ParseTaints(a.registerWithTaints); err != nil {
			return nil, &usageError{err.Error()}
		}
	}
	if a.statusUpdateFrequency <= 0 || a.statusReportFrequency <= 0 || a.leaseDuration <= 0 {
		return nil, &usageError{"--node-status-update-frequency, nodeStatusReportFrequency and nodeLeaseDurationSeconds must be positive"}
	}
	return &agent.Config{
		Kubeconfig: a.kubeconfig, BootstrapKubeconfig: a.bootstrapKubeconfig, CertDir: a.certDir,
		RotateCertificates: a.rotateCertificates, Labels: labels, Taints: taints,
		StatusUpdateFrequency: a.statusUpdateFrequency, StatusReportFrequency: max(a.statusReportFrequency, a.statusUpdateFrequency),
		LeaseDuration: a.leaseDuration, QPS: a.qps, Burst: a.burst,
		KubeletVersion: kubeletVersion(),
	}, nil
}

// kubeletVersion is what bosun's Node reports as nodeInfo.kubeletVersion:
// the Kubernetes release whose kubelet bosun follows, the one of the
// k8s.io/api it is built with (v0.37.2 is Kubernetes v1.37.2), so that
// kubeadm's and kubectl's version-skew checks compare it as a kubelet of
// that release.
func kubeletVersion() string {
	if bi, ok := rtdebug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/api" {
				if v, ok := strings.CutPrefix(d.Version, "v0."); ok {
					return "v1." + v
				}
			}
		}
	}
	return kubeletVersionFallback
}

// kubeletVersionFallback is kubeletVersion of a binary without build
// information (go test): the release of go.mod's k8s.io/api.
const kubeletVersionFallback = "v1.37.2"

// logAPISide says at start what the API side will do.
func logAPISide(log *slog.Logger, c *agent.Config) {
	if c == nil {
		log.Info("no --kubeconfig: bosun registers no Node and posts no mirror pods")
		return
	}
	log.Info("API side on", "kubeconfig", c.Kubeconfig, "bootstrapKubeconfig", c.BootstrapKubeconfig,
		"certDir", c.CertDir, "kubeletVersion", c.KubeletVersion)
}
