package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	stdsync "sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2"

	"github.com/bosun-sh/bosun/agent"
	"github.com/bosun-sh/bosun/cmd/bosun/internal/endpoints"
	"github.com/bosun-sh/bosun/cmd/bosun/internal/host"
	"github.com/bosun-sh/bosun/cmd/bosun/internal/kubeletconfig"
	"github.com/bosun-sh/bosun/cmd/bosun/internal/systemd"
	"github.com/bosun-sh/bosun/credentials"
	"github.com/bosun-sh/bosun/imagegc"
	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/podcgroup"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/proto/server"
	"github.com/bosun-sh/bosun/rollout"
	"github.com/bosun-sh/bosun/runtime"
	"github.com/bosun-sh/bosun/sync"
)

type daemonFlags struct {
	manifestPath    string
	endpoint        string
	node            string
	rootDir         string
	podLogsDir      string
	fileCheck       time.Duration
	syncFrequency   time.Duration
	relistPeriod    time.Duration
	backoffInitial  time.Duration
	backoffMax      time.Duration
	allowSymlinks   bool
	logFormat       string
	verbosity       int
	fileEventSettle time.Duration
	apiSocket       string
	apiSocketGroup  string
	config          string
	healthzAddr     string
	metricsAddr     string
	profiling       bool
	remoteProfiling bool
	nodeIP          string
	logMaxSize      string
	logMaxFiles     int
	logLinksDir     string
	takeOver        bool
	cgroupDriver    string
	resolvConf      string
	clusterDNS      string
	clusterDomain   string
	seccompRoot     string
	imagePreloadDir string
	// imageGC is the image garbage collector's policy.
	imageGC imagegc.Policy
	// rollbackOnFailure enables rollback for every pod.
	rollbackOnFailure     bool
	podPidsLimit          int64
	cpuCFSQuota           bool
	cpuCFSQuotaPeriod     time.Duration
	serializeImagePulls   bool
	maxParallelImagePulls int32
	runtimeRequestTimeout time.Duration
	imageEndpoint         string
	seccompDefault        bool
	allowedUnsafeSysctls  []string
	// credentialProviderConfig and credentialProviderBinDir configure the
	// credential provider plugins of image pulls.
	credentialProviderConfig string
	credentialProviderBinDir string
	// api configures the API side (--kubeconfig and the Node's flags).
	api apiSideFlags
	// configIgnored lists the fields of --config that bosun has no use for.
	configIgnored []string
}

const runExample = `  bosun run --pod-manifest-path /etc/kubernetes/manifests --container-runtime-endpoint unix:///run/containerd/containerd.sock
  bosun run --config /var/lib/kubelet/config.yaml`

// newRunCommand is "bosun run", the daemon. Its flags keep the kubelet's
// names and are shown in sections, as the kubelet's are.
func newRunCommand() *cobra.Command {
	f := &daemonFlags{}
	cmd := &cobra.Command{
		Use:     "run [flags]",
		Short:   "Run the daemon: keep the pods of --pod-manifest-path running",
		Example: runExample,
		GroupID: groupDaemon,
		Args:    noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return runDaemon(cmd.Context(), cmd.Flags(), f, cmd.ErrOrStderr())
		}),
	}
	addSections(cmd, f.sections())
	addKubeletFlags(cmd)
	return cmd
}

// sections defines the flags of bosun run, by section.
func (f *daemonFlags) sections() []flagSection {
	var s []flagSection
	fs := newSection(&s, "Manifest")
	fs.StringVar(&f.manifestPath, "pod-manifest-path", "/etc/kubernetes/manifests", "directory of static pod manifests, or a single manifest file")
	fs.StringVar(&f.config, "config", "", "a KubeletConfiguration file (as kubeadm writes it): staticPodPath, containerRuntimeEndpoint, podLogsDir, fileCheckFrequency, syncFrequency, healthzBindAddress and healthzPort, containerLogMaxSize, containerLogMaxFiles, cgroupDriver, resolvConf, crashLoopBackOff.maxContainerRestartPeriod, clusterDNS, clusterDomain, podPidsLimit, cpuCFSQuota, cpuCFSQuotaPeriod, serializeImagePulls, maxParallelImagePulls, runtimeRequestTimeout, imageServiceEndpoint, seccompDefault and allowedUnsafeSysctls are honoured (0s means the default); flags win")
	fs.StringVar(&f.node, "hostname-override", "", "node name (default: the hostname)")
	fs.DurationVar(&f.fileCheck, "file-check-frequency", 20*time.Second, "period of the full rescan of the manifest directory")
	fs.DurationVar(&f.fileEventSettle, "file-event-settle", 5*time.Millisecond, "quiet time after a file event before the directory is read")
	fs.BoolVar(&f.allowSymlinks, "allow-symlinks", false, "accept manifests that are symbolic links (the target is checked)")

	fs = newSection(&s, "Runtime")
	fs.StringVar(&f.endpoint, "container-runtime-endpoint", "unix:///run/containerd/containerd.sock", "CRI v1 runtime socket")
	fs.StringVar(&f.cgroupDriver, "cgroup-driver", "", "cgroup driver, cgroupfs or systemd, for a runtime that does not say which it uses (containerd 1.x); the runtime's answer wins (default: cgroupfs)")
	fs.StringVar(&f.rootDir, "root-dir", "/var/lib/bosun", "bosun's state directory")
	fs.DurationVar(&f.syncFrequency, "sync-frequency", time.Minute, "period of the full relist of the runtime")
	fs.DurationVar(&f.relistPeriod, "container-relist-period", time.Second, "period of the container relist when the runtime has no event stream (containerd 1.6 without its task events)")
	fs.StringVar(&f.seccompRoot, "seccomp-profile-root", runtime.DefaultSeccompProfileRoot, "directory of Localhost seccomp profiles")
	fs.StringVar(&f.imagePreloadDir, "image-preload-dir", "", "directory of image tarballs (*.tar: docker-archive or OCI layout) imported into the runtime before the first sync and whenever one is added or changed (empty: none)")
	fs.StringVar(&f.imageEndpoint, "image-service-endpoint", "", "CRI image service socket; bosun needs it to be the runtime's (empty: --container-runtime-endpoint)")
	fs.DurationVar(&f.runtimeRequestTimeout, "runtime-request-timeout", 0, "deadline of each CRI call, twice that for RunPodSandbox (0: bosun's own, 30s for a call, 2m to create a sandbox or container, 10m to pull)")
	fs.BoolVar(&f.serializeImagePulls, "serialize-image-pulls", false, "pull one image at a time (the kubelet's default is true; bosun's pulls go in parallel with its pod creations)")
	fs.Int32Var(&f.maxParallelImagePulls, "max-parallel-image-pulls", 0, "most image pulls in flight when not --serialize-image-pulls (0: as many as pod creations)")
	fs.Int64Var(&f.podPidsLimit, "pod-max-pids", -1, "most processes in each pod's cgroup (pids.max; -1: no limit; cgroupfs driver)")
	fs.BoolVar(&f.cpuCFSQuota, "cpu-cfs-quota", true, "enforce CPU limits with a CFS quota")
	fs.DurationVar(&f.cpuCFSQuotaPeriod, "cpu-cfs-quota-period", 100*time.Millisecond, "CFS period of CPU limits (1ms to 1s)")
	fs.BoolVar(&f.seccompDefault, "seccomp-default", true, "run containers without a seccomp profile with RuntimeDefault; false: Unconfined, as the kubelet's default")
	fs.StringVar(&f.credentialProviderConfig, "image-credential-provider-config", "", "credential provider plugin config file (JSON or YAML CredentialProviderConfig), or a directory of such files merged in lexical order, as the kubelet's; image pulls also use the Docker config.json in --root-dir, /var/lib/kubelet, the working dir, $HOME/.docker and /.docker (the first found)")
	fs.StringVar(&f.credentialProviderBinDir, "image-credential-provider-bin-dir", "", "directory of the credential provider plugins' executables")
	fs.StringSliceVar(&f.allowedUnsafeSysctls, "allowed-unsafe-sysctls", nil, "comma-separated unsafe sysctls or prefixes ending in * that pods may set (safe sysctls are always allowed)")
	fs.IntVar(&f.imageGC.HighThresholdPercent, "image-gc-high-threshold", imagegc.DefaultPolicy.HighThresholdPercent, "percent of the image filesystem's space used at or above which unused images are removed, least recently used first (100: never)")
	fs.IntVar(&f.imageGC.LowThresholdPercent, "image-gc-low-threshold", imagegc.DefaultPolicy.LowThresholdPercent, "percent of the image filesystem's space used that image garbage collection frees down to")
	fs.DurationVar(&f.imageGC.MinAge, "minimum-image-gc-age", imagegc.DefaultPolicy.MinAge, "age below which an unused image is never removed")
	fs.DurationVar(&f.imageGC.MaxAge, "maximum-image-gc-age", 0, "remove an image unused for longer than this, whatever the space used (0: never)")
	fs.BoolVar(&f.takeOver, "take-over-kubelet-pods", false, "stop and remove a running kubelet static pod (made from a file) of the same name just before starting bosun's own, one pod at a time, etcd first")

	fs = newSection(&s, "Restart")
	fs.DurationVar(&f.backoffInitial, "crash-loop-backoff-initial", 10*time.Second, "first CrashLoopBackOff delay (doubles per restart)")
	fs.DurationVar(&f.backoffMax, "crash-loop-backoff-max", 300*time.Second, "largest CrashLoopBackOff delay")
	fs.BoolVar(&f.rollbackOnFailure, "rollback-on-failure", false, "roll a pod back to its last Ready version when a new version of its manifest is not Ready within its bosun.dev/progress-deadline (default 5m) or crash-loops; per pod: the annotation bosun.dev/rollback \"true\" or \"false\" (docs/rollback.md)")

	fs = newSection(&s, "Container log")
	fs.StringVar(&f.podLogsDir, "pod-logs-dir", "/var/log/pods", "root of the pods' log directories")
	fs.StringVar(&f.logMaxSize, "container-log-max-size", "10Mi", "rotate a container log past this size")
	fs.IntVar(&f.logMaxFiles, "container-log-max-files", 5, "log files kept per container, the current one included (at least 2)")
	fs.StringVar(&f.logLinksDir, "container-log-links-dir", "/var/log/containers", "directory of the kubelet's links <pod>_<namespace>_<container>-<id>.log to container logs, read by log collectors (empty: none)")

	fs = newSection(&s, "Network and DNS")
	fs.StringVar(&f.nodeIP, "node-ip", "", "the node's IP: probes and hooks of hostNetwork pods go there, and status.hostIP (default: as the kubelet: the node name if it is an IP, else its first address on this host, else the default route's interface address; 0.0.0.0 or :: choose the family)")
	fs.StringVar(&f.resolvConf, "resolv-conf", "/etc/resolv.conf", "resolver configuration of pods with dnsPolicy Default (or ClusterFirst without --cluster-dns); empty: 127.0.0.1")
	fs.StringVar(&f.clusterDNS, "cluster-dns", "", "comma-separated IPs of the cluster DNS, for pods with dnsPolicy ClusterFirst")
	fs.StringVar(&f.clusterDomain, "cluster-domain", "", "the cluster's DNS domain, searched by ClusterFirst pods (e.g. cluster.local)")

	fs = newSection(&s, "API and endpoint")
	fs.StringVar(&f.apiSocket, "api-socket", defaultAPISocket, "unix socket of bosun's API for the CLI (empty: none)")
	fs.StringVar(&f.apiSocketGroup, "api-socket-group", "", "group allowed to use the API socket (default: root only)")
	fs.StringVar(&f.healthzAddr, "healthz-bind-address", "127.0.0.1:10290", "address of /healthz and /readyz (empty: off)")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", "127.0.0.1:10290", "address of Prometheus /metrics (empty: off)")
	fs.BoolVar(&f.profiling, "profiling", false, "serve /debug/pprof on the metrics address (a loopback address unless --allow-remote-profiling)")
	fs.BoolVar(&f.remoteProfiling, "allow-remote-profiling", false, "allow --profiling on a metrics address that is not loopback")

	fs = newSection(&s, "Kubernetes API server (the Node, its Lease, mirror pods, events)")
	f.api.addFlags(fs)

	fs = newSection(&s, "Logging")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.IntVarP(&f.verbosity, "v", "v", 0, "log verbosity: 0 info, 1 and more debug (every CRI call)")
	return s
}

// runtimeVersion is the runtime as nodeInfo.containerRuntimeVersion says
// it: "containerd://1.6.20".
func runtimeVersion(name, version string) string {
	return name + "://" + strings.TrimPrefix(version, "v")
}

// mirrorPods tells bosun's API where each pod's mirror pod stands; nil
// without an API side.
func mirrorPods(a *agent.Agent) func(key string) string {
	if a == nil {
		return nil
	}
	return a.MirrorPod
}

// runDaemon runs bosun until ctx ends; fs holds the flags parsed into f.
func runDaemon(ctx context.Context, fs *pflag.FlagSet, f *daemonFlags, stderr io.Writer) error {
	if err := applyConfig(fs, f); err != nil {
		return err
	}
	parsed, err := f.parse()
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, f.logFormat, f.verbosity)
	if err != nil {
		return err
	}
	if len(f.configIgnored) > 0 {
		log.Warn("config fields bosun has no use for are ignored", "file", f.config, "fields", strings.Join(f.configIgnored, ","))
	}
	warnKubeletFlags(log, fs)
	apiSide, err := f.api.agentConfig(fs)
	if err != nil {
		return err
	}
	if f.node == "" {
		f.node = defaultNodeName()
	}
	f.node = strings.ToLower(f.node)
	var nodeIPFrom host.Source
	f.nodeIP, nodeIPFrom = host.NodeIP(ctx, f.nodeIP, f.node)
	if nodeIPFrom == host.FromNowhere {
		log.Warn("no node IP: not from --node-ip, the node name's addresses nor the default route; status.hostIP is empty", "node", f.node)
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{f.rootDir, 0o700}, {f.podLogsDir, 0o755}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("run: %w", err)
		}
	}
	if err := canonicalDirs(log, f); err != nil {
		return fmt.Errorf("run: %w", err)
	}

	home, _ := os.UserHomeDir()
	creds, err := credentials.New(credentials.Config{RootDir: f.rootDir, Home: home, Log: log,
		PluginConfig: f.credentialProviderConfig, PluginBinDir: f.credentialProviderBinDir})
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}

	metrics := endpoints.NewMetrics(version)
	client, info, err := runtime.Dial(ctx, f.endpoint, log, runtime.WithObserver(metrics.ObserveCRI), runtime.WithRequestTimeout(f.runtimeRequestTimeout))
	if err != nil {
		return err
	}
	defer client.Close()
	cgroups, err := runtime.ChooseCgroupDriver(ctx, client.CgroupDriver, f.cgroupDriver)
	if err != nil {
		return fmt.Errorf("container runtime endpoint %s: %w", f.endpoint, err)
	}
	log.Info("bosun started", "version", version, "node", f.node, "manifests", f.manifestPath,
		"runtime", info.RuntimeName+" "+info.RuntimeVersion, "endpoint", f.endpoint, "nodeIP", f.nodeIP, "nodeIPFrom", nodeIPFrom,
		"cgroupDriver", cgroups.Driver, "cgroupDriverFrom", cgroups.From)
	if cgroups.Overruled != "" {
		log.Warn("the runtime's cgroup driver wins over the one configured", "runtime", cgroups.Driver, "configured", cgroups.Overruled)
	}
	if !info.NetworkReady {
		log.Warn("runtime network not ready; only hostNetwork pods can start", "reason", info.NetworkReason)
	}

	var api net.Listener
	if f.apiSocket != "" {
		if api, err = server.Listen(f.apiSocket, f.apiSocketGroup); err != nil {
			return err
		}
		defer os.Remove(f.apiSocket)
	}

	notifier := systemd.FromEnv()
	var loop *sync.Loop
	src := manifest.NewSource(manifest.SourceConfig{
		Path:                 f.manifestPath,
		Node:                 f.node,
		AllowSymlinks:        f.allowSymlinks,
		Period:               f.fileCheck,
		Settle:               f.fileEventSettle,
		Log:                  log,
		Notify:               func() { loop.Wake() },
		AllowedUnsafeSysctls: f.allowedUnsafeSysctls,
	})
	ro, err := rollout.New(rollout.Config{Source: src, RootDir: f.rootDir, All: f.rollbackOnFailure, Log: log,
		OnRollback: func(r rollout.Reason) { metrics.ObserveRollback(string(r)) }})
	if err != nil {
		return err
	}
	defer ro.Close()
	loop = sync.New(sync.Config{
		Runtime:        client,
		Source:         ro,
		Log:            log,
		SyncFrequency:  f.syncFrequency,
		RelistPeriod:   f.relistPeriod,
		BackoffInitial: f.backoffInitial,
		BackoffMax:     f.backoffMax,
		Node: runtime.Node{
			Name: f.node, HostIP: f.nodeIP, PodLogsDir: f.podLogsDir, RootDir: f.rootDir,
			AppArmor: host.AppArmor(), CgroupDriver: cgroups.Driver, ResolvConf: runtime.NewResolvConf(f.resolvConf, log),
			Memory: runtime.DetectCgroupMemory(podcgroup.Root, "/proc/self/cgroup"), SELinux: runtime.SELinuxEnabled(),
			ClusterDNS: parsed.clusterDNS, ClusterDomain: f.clusterDomain, SeccompProfileRoot: f.seccompRoot,
			CPUs: host.CPUs(), MemoryBytes: host.MemoryBytes(),
			SeccompUnconfined: !f.seccompDefault, CPUCFSQuotaOff: !f.cpuCFSQuota, CPUCFSQuotaPeriod: f.cpuCFSQuotaPeriod,
			PodPidsLimit: max(f.podPidsLimit, 0),
		},
		MaxParallelImagePulls: parsed.maxParallelImagePulls,
		Credentials:           creds,
		OnSync:                metrics.ObserveSync,
		LogMaxSize:            parsed.logMaxSize,
		LogMaxFiles:           f.logMaxFiles,
		LogLinksDir:           f.logLinksDir,
		TakeOver:              f.takeOver,
		OnFirstSync: func() {
			if err := notifier.Notify("READY=1"); err != nil {
				log.Warn("systemd notify", "err", err)
			}
		},
		PodCgroupRoot: podcgroup.Root,
	})
	metrics.Watch(loop)
	ro.Watch(loop)
	serveHTTP, err := endpoints.Listen(endpoints.Config{HealthzAddr: f.healthzAddr, MetricsAddr: f.metricsAddr,
		Profiling: f.profiling, State: loop, Metrics: metrics, Log: log})
	if err != nil {
		return err
	}
	src.Scan() // so the first sync already knows the manifests
	preload := newPreloader(*f, loop, log)
	if preload != nil {
		preload.Scan(ctx) // so the first sync finds the images
	}

	var wg stdsync.WaitGroup
	errs := make([]error, 3)
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = src.Run(ctx) }()
	go func() { defer wg.Done(); errs[2] = serveHTTP(ctx) }()
	if preload != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := preload.Run(ctx); err != nil {
				log.Error("image preload stopped", "dir", f.imagePreloadDir, "err", err)
			}
		}()
	}
	gc := imagegc.New(imagegc.Config{
		Runtime: client, Policy: f.imageGC, Log: log,
		Wanted: func() []string {
			return imagegc.ManifestImages(src.Snapshot(), manifest.Snapshot{Pods: ro.Versions()})
		},
		Report: func(t imagegc.EventType, msg string) {
			loop.History().Add(sync.Event{Time: time.Now(), Type: sync.EventType(t), Message: msg})
		},
		Removed: func(r imagegc.Reason, n uint64) { metrics.ObserveImageRemoved(string(r), n) },
	})
	wg.Add(1)
	go func() { defer wg.Done(); gc.Run(ctx) }()
	if wd := systemd.WatchdogInterval(); wd > 0 {
		go notifier.Watchdog(ctx, wd, func() bool { return loop.Alive(f.syncFrequency + 2*wd) })
	}
	var apiAgent *agent.Agent
	if apiSide != nil {
		apiSide.NodeName, apiSide.Hostname, apiSide.NodeIP = f.node, f.node, f.nodeIP
		apiSide.RuntimeVersion = runtimeVersion(info.RuntimeName, info.RuntimeVersion)
		apiSide.RootDir = f.rootDir
		apiSide.Loop, apiSide.Desired, apiSide.Events = loop, ro, loop.History()
		apiSide.Log = log.With("component", "api-side")
		// client-go's own messages (its certificate manager, lease
		// controller and event broadcaster) go to bosun's log.
		klog.SetSlogLogger(apiSide.Log.With("part", "client-go"))
		apiAgent = agent.New(*apiSide)
		wg.Add(1)
		go func() { defer wg.Done(); apiAgent.Run(ctx) }()
	}
	logAPISide(log, apiSide)
	if api != nil {
		info := &bosunv1.Info{
			Version: version, Node: f.node, RuntimeEndpoint: f.endpoint, RuntimeName: info.RuntimeName,
			RuntimeVersion: info.RuntimeVersion, ManifestDir: f.manifestPath, PodLogsDir: f.podLogsDir,
			StartedUnixNano: time.Now().UnixNano(),
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[1] = server.Serve(ctx, api, server.New(loop, info, server.WithRollouts(ro), server.WithMirrorPods(mirrorPods(apiAgent))))
		}()
		log.Info("api serving", "socket", f.apiSocket)
	}
	err = loop.Run(ctx)
	wg.Wait()
	err = errors.Join(append(errs, err)...)
	log.Info("bosun stopped; pods keep running")
	return err
}

// canonicalDirs replaces --root-dir and --pod-logs-dir, which exist, with
// their absolute paths with every link resolved, so that everything below
// works on the real directories; it logs a path that changed, and warns
// when other users may enter the root dir (pods stay closed to them: the
// pods directory is 0750).
func canonicalDirs(log *slog.Logger, f *daemonFlags) error {
	for _, d := range []struct {
		flag string
		path *string
	}{{"root-dir", &f.rootDir}, {"pod-logs-dir", &f.podLogsDir}} {
		abs, err := filepath.Abs(*d.path)
		if err != nil {
			return fmt.Errorf("--%s %s: %w", d.flag, *d.path, err)
		}
		canon, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return fmt.Errorf("--%s %s: %w", d.flag, *d.path, err)
		}
		if canon != *d.path {
			log.Info("directory given through a link or relative path; bosun uses its canonical path", "flag", d.flag, "given", *d.path, "dir", canon)
		}
		*d.path = canon
	}
	fi, err := os.Stat(f.rootDir)
	if err != nil {
		return fmt.Errorf("--root-dir: %w", err)
	}
	if fi.Mode().Perm()&0o001 != 0 {
		log.Warn("other users may enter the root dir (bosun makes it 0700); pod directories stay 0750", "dir", f.rootDir, "mode", fmt.Sprintf("%#o", fi.Mode().Perm()))
	}
	return nil
}

// parsedFlags are the values of bosun run's flags that take parsing.
type parsedFlags struct {
	logMaxSize            int64
	clusterDNS            []string
	maxParallelImagePulls int
}

// parse checks the flags of bosun run, --config applied, and parses those
// that take it. A mistake is a usage error that names the flag.
func (f *daemonFlags) parse() (parsedFlags, error) {
	var p parsedFlags
	if f.profiling && !f.remoteProfiling && f.metricsAddr != "" && !endpoints.Loopback(f.metricsAddr) {
		return p, &usageError{fmt.Sprintf("--profiling on --metrics-bind-address %q, which is not a loopback address, would serve /debug/pprof to the network: add --allow-remote-profiling if that is meant", f.metricsAddr)}
	}
	if f.nodeIP != "" {
		ip, err := primaryNodeIP(f.nodeIP)
		if err != nil {
			return p, &usageError{err.Error()}
		}
		f.nodeIP = ip
	}
	logMaxSize, err := resource.ParseQuantity(f.logMaxSize)
	if err != nil || logMaxSize.Sign() <= 0 {
		return p, &usageError{fmt.Sprintf("--container-log-max-size %q: not a positive quantity such as 10Mi", f.logMaxSize)}
	}
	p.logMaxSize = logMaxSize.Value()
	if f.cgroupDriver != "" && f.cgroupDriver != runtime.CgroupDriverCgroupfs && f.cgroupDriver != runtime.CgroupDriverSystemd {
		return p, &usageError{fmt.Sprintf("--cgroup-driver must be cgroupfs or systemd, not %q", f.cgroupDriver)}
	}
	for _, ip := range strings.Split(f.clusterDNS, ",") {
		if ip = strings.TrimSpace(ip); ip == "" {
			continue
		}
		if net.ParseIP(ip) == nil {
			return p, &usageError{fmt.Sprintf("--cluster-dns %q: %q is not an IP address", f.clusterDNS, ip)}
		}
		p.clusterDNS = append(p.clusterDNS, ip)
	}
	if err := f.parseNodeConfig(&p); err != nil {
		return p, err
	}
	if f.logMaxFiles < 2 {
		return p, &usageError{fmt.Sprintf("--container-log-max-files %d: must be at least 2", f.logMaxFiles)}
	}
	if err := f.imageGC.Validate(); err != nil {
		return p, &usageError{fmt.Sprintf("image garbage collection (--image-gc-high-threshold, --image-gc-low-threshold, --minimum-image-gc-age, --maximum-image-gc-age): %v", err)}
	}
	return p, nil
}

// parseNodeConfig checks the flags of the kubelet's node settings that
// bosun honours: image pulls, CFS, pids, the image service and sysctls.
func (f *daemonFlags) parseNodeConfig(p *parsedFlags) error {
	if f.imageEndpoint != "" {
		img, err := runtime.SocketPath(f.imageEndpoint)
		if err != nil {
			return &usageError{fmt.Sprintf("--image-service-endpoint: %v", err)}
		}
		if rt, err := runtime.SocketPath(f.endpoint); err == nil && filepath.Clean(img) != filepath.Clean(rt) {
			return &usageError{fmt.Sprintf("--image-service-endpoint %s: bosun talks to one runtime socket: an image service on another socket than --container-runtime-endpoint %s is not supported", f.imageEndpoint, f.endpoint)}
		}
	}
	if f.runtimeRequestTimeout < 0 {
		return &usageError{fmt.Sprintf("--runtime-request-timeout %v: must not be negative", f.runtimeRequestTimeout)}
	}
	if f.cpuCFSQuotaPeriod < time.Millisecond || f.cpuCFSQuotaPeriod > time.Second {
		return &usageError{fmt.Sprintf("--cpu-cfs-quota-period %v: must be between 1ms and 1s", f.cpuCFSQuotaPeriod)}
	}
	if f.podPidsLimit < -1 {
		return &usageError{fmt.Sprintf("--pod-max-pids %d: must be a number of processes, or -1 for no limit", f.podPidsLimit)}
	}
	switch {
	case f.maxParallelImagePulls < 0:
		return &usageError{fmt.Sprintf("--max-parallel-image-pulls %d: must not be negative", f.maxParallelImagePulls)}
	case f.serializeImagePulls && f.maxParallelImagePulls > 1:
		return &usageError{fmt.Sprintf("--max-parallel-image-pulls %d needs --serialize-image-pulls=false", f.maxParallelImagePulls)}
	case f.serializeImagePulls:
		p.maxParallelImagePulls = 1
	default:
		p.maxParallelImagePulls = int(f.maxParallelImagePulls)
	}
	if err := manifest.CheckSysctlPatterns(f.allowedUnsafeSysctls); err != nil {
		return &usageError{fmt.Sprintf("--allowed-unsafe-sysctls: %v", err)}
	}
	return nil
}

// applyConfig takes the honoured fields of --config for every flag not
// given on the command line.
func applyConfig(fs *pflag.FlagSet, f *daemonFlags) error {
	if f.config == "" {
		return nil
	}
	c, err := kubeletconfig.Load(f.config)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *pflag.Flag) { set[fl.Name] = true })
	take := func(name string, ok bool, apply func()) {
		if ok && !set[name] {
			apply()
		}
	}
	take("pod-manifest-path", c.StaticPodPath != "", func() { f.manifestPath = c.StaticPodPath })
	take("container-runtime-endpoint", c.ContainerRuntimeEndpoint != "", func() { f.endpoint = c.ContainerRuntimeEndpoint })
	take("pod-logs-dir", c.PodLogsDir != "", func() { f.podLogsDir = c.PodLogsDir })
	take("file-check-frequency", c.FileCheckFrequency > 0, func() { f.fileCheck = c.FileCheckFrequency })
	take("sync-frequency", c.SyncFrequency > 0, func() { f.syncFrequency = c.SyncFrequency })
	take("container-log-max-size", c.ContainerLogMaxSize > 0, func() { f.logMaxSize = fmt.Sprint(c.ContainerLogMaxSize) })
	take("container-log-max-files", c.ContainerLogMaxFiles > 0, func() { f.logMaxFiles = c.ContainerLogMaxFiles })
	take("cgroup-driver", c.CgroupDriver != "", func() { f.cgroupDriver = c.CgroupDriver })
	take("resolv-conf", c.ResolvConf != "", func() { f.resolvConf = c.ResolvConf })
	take("cluster-dns", len(c.ClusterDNS) > 0, func() { f.clusterDNS = strings.Join(c.ClusterDNS, ",") })
	take("cluster-domain", c.ClusterDomain != "", func() { f.clusterDomain = c.ClusterDomain })
	take("healthz-bind-address", c.HealthzSet, func() { f.healthzAddr = c.HealthzAddress })
	take("crash-loop-backoff-max", c.MaxContainerRestartPeriod > 0, func() {
		f.backoffMax = c.MaxContainerRestartPeriod
		// The kubelet starts the backoff at the maximum when that is smaller.
		if !set["crash-loop-backoff-initial"] {
			f.backoffInitial = min(f.backoffInitial, f.backoffMax)
		}
	})
	take("pod-max-pids", c.PodPidsLimit > 0, func() { f.podPidsLimit = c.PodPidsLimit })
	take("cpu-cfs-quota", c.CPUCFSQuota != nil, func() { f.cpuCFSQuota = *c.CPUCFSQuota })
	take("cpu-cfs-quota-period", c.CPUCFSQuotaPeriod > 0, func() { f.cpuCFSQuotaPeriod = c.CPUCFSQuotaPeriod })
	take("serialize-image-pulls", c.SerializeImagePulls != nil, func() { f.serializeImagePulls = *c.SerializeImagePulls })
	take("max-parallel-image-pulls", c.MaxParallelImagePulls > 0, func() { f.maxParallelImagePulls = c.MaxParallelImagePulls })
	take("runtime-request-timeout", c.RuntimeRequestTimeout > 0, func() { f.runtimeRequestTimeout = c.RuntimeRequestTimeout })
	take("image-service-endpoint", c.ImageServiceEndpoint != "", func() { f.imageEndpoint = c.ImageServiceEndpoint })
	take("seccomp-default", c.SeccompDefault != nil, func() { f.seccompDefault = *c.SeccompDefault })
	take("allowed-unsafe-sysctls", len(c.AllowedUnsafeSysctls) > 0, func() { f.allowedUnsafeSysctls = c.AllowedUnsafeSysctls })
	take("image-gc-high-threshold", c.ImageGCHighThresholdPercent != nil, func() { f.imageGC.HighThresholdPercent = int(*c.ImageGCHighThresholdPercent) })
	take("image-gc-low-threshold", c.ImageGCLowThresholdPercent != nil, func() { f.imageGC.LowThresholdPercent = int(*c.ImageGCLowThresholdPercent) })
	take("minimum-image-gc-age", c.ImageMinimumGCAge > 0, func() { f.imageGC.MinAge = c.ImageMinimumGCAge })
	take("maximum-image-gc-age", c.ImageMaximumGCAge > 0, func() { f.imageGC.MaxAge = c.ImageMaximumGCAge })
	take("rotate-certificates", c.RotateCertificates != nil, func() { f.api.rotateCertificates = *c.RotateCertificates })
	take("register-with-taints", c.RegisterWithTaints != nil, func() { f.api.taints = c.RegisterWithTaints })
	take("node-status-update-frequency", c.NodeStatusUpdateFrequency > 0, func() { f.api.statusUpdateFrequency = c.NodeStatusUpdateFrequency })
	take("kube-api-qps", c.KubeAPIQPS > 0, func() { f.api.qps = c.KubeAPIQPS })
	take("kube-api-burst", c.KubeAPIBurst > 0, func() { f.api.burst = c.KubeAPIBurst })
	if c.NodeStatusReportFrequency > 0 {
		f.api.statusReportFrequency = c.NodeStatusReportFrequency
	}
	if c.NodeLeaseDuration > 0 {
		f.api.leaseDuration = c.NodeLeaseDuration
	}
	f.configIgnored = c.Ignored
	return nil
}

func newLogger(w io.Writer, format string, verbosity int) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if verbosity > 0 {
		opts.Level = slog.LevelDebug
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, &usageError{fmt.Sprintf("--log-format must be text or json, not %q", format)}
}
