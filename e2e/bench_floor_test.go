//go:build bench

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	stdsync "sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/podcgroup"
	"github.com/bosun-sh/bosun/podfs"
	bosunruntime "github.com/bosun-sh/bosun/runtime"
)

// The floor: what containerd itself allows. The benchmark creates pods over
// CRI itself, with no daemon in between: a bare pod, the bare pod plus one
// element of bosun's configs at a time, and exactly bosun's configs (its
// translation, with the files bosun writes before the calls), one at a time
// and k at a time.

// floorPod is one pod the benchmark runs over CRI, and what to undo.
type floorPod struct {
	sandbox  string
	cgroup   string // pod cgroup parent written, or ""
	podDirID string // pod directory below the floor root, or ""
	// phases times the files written and each CRI call.
	phases callSums
}

// callSums are, by CRI method (and "files" for what is written first), the
// number of calls and their total time in milliseconds.
type callSums map[string][2]float64

func (c callSums) add(method string, d time.Duration) {
	v := c[method]
	c[method] = [2]float64{v[0] + 1, v[1] + float64(d.Microseconds())/1000}
}

// minus is c less an earlier reading o.
func (c callSums) minus(o callSums) callSums {
	out := callSums{}
	for m, v := range c {
		out[m] = [2]float64{v[0] - o[m][0], v[1] - o[m][1]}
	}
	return out
}

func (c callSums) merge(o callSums) {
	for m, v := range o {
		w := c[m]
		c[m] = [2]float64{w[0] + v[0], w[1] + v[1]}
	}
}

// floorEnv holds where floor pods put their files.
type floorEnv struct {
	node bosunruntime.Node
	dir  string
}

func newFloorEnv(t *testing.T) *floorEnv {
	dir := t.TempDir()
	return &floorEnv{dir: dir, node: bosunruntime.Node{Name: "floor", PodLogsDir: filepath.Join(dir, "logs"), RootDir: filepath.Join(dir, "root"), CgroupDriver: bosunruntime.CgroupDriverCgroupfs}}
}

// floorElement is one element of bosun's configs, applied alone to the bare
// pod: it edits the configs and writes what they need on disk.
type floorElement struct {
	name  string
	apply func(f *floorEnv, p *floorPod, full, sb *runtimeapi.PodSandboxConfig, fullC, c *runtimeapi.ContainerConfig, uid string) error
}

// The element "all of bosun's configs" is the translation itself (fullPod).
var floorElements = []floorElement{
	{"bare pod: host network, no seccomp, no cgroup parent, no mounts, no log", nil},
	{"+ seccomp RuntimeDefault (sandbox and container)", func(_ *floorEnv, _ *floorPod, full, sb *runtimeapi.PodSandboxConfig, fullC, c *runtimeapi.ContainerConfig, _ string) error {
		sb.Linux.SecurityContext.Seccomp = full.Linux.SecurityContext.Seccomp
		sb.Linux.SecurityContext.SeccompProfilePath = full.Linux.SecurityContext.SeccompProfilePath //nolint:staticcheck // bosun sends both
		c.Linux.SecurityContext.Seccomp = fullC.Linux.SecurityContext.Seccomp
		c.Linux.SecurityContext.SeccompProfilePath = fullC.Linux.SecurityContext.SeccompProfilePath //nolint:staticcheck // bosun sends both
		return nil
	}},
	{"+ pod cgroup parent (its limits written first)", func(_ *floorEnv, p *floorPod, full, sb *runtimeapi.PodSandboxConfig, _, _ *runtimeapi.ContainerConfig, _ string) error {
		sb.Linux.CgroupParent = full.Linux.CgroupParent
		p.cgroup = full.Linux.CgroupParent
		return podcgroup.Write(podcgroup.Root, full.Linux.CgroupParent, podcgroup.Limits{})
	}},
	{"+ log directory and container log file", func(f *floorEnv, _ *floorPod, full, sb *runtimeapi.PodSandboxConfig, fullC, c *runtimeapi.ContainerConfig, _ string) error {
		sb.LogDirectory, c.LogPath = full.LogDirectory, fullC.LogPath
		return podfs.MkdirIn(f.node.PodLogsDir, full.LogDirectory, 0o755)
	}},
	{"+ masked and read-only /proc paths, capabilities", func(_ *floorEnv, _ *floorPod, _, _ *runtimeapi.PodSandboxConfig, fullC, c *runtimeapi.ContainerConfig, _ string) error {
		sc := fullC.Linux.SecurityContext
		c.Linux.SecurityContext.MaskedPaths, c.Linux.SecurityContext.ReadonlyPaths = sc.MaskedPaths, sc.ReadonlyPaths
		c.Linux.SecurityContext.Capabilities = sc.Capabilities
		return nil
	}},
	{"+ labels and annotations (the spec annotation too)", func(_ *floorEnv, _ *floorPod, full, sb *runtimeapi.PodSandboxConfig, fullC, c *runtimeapi.ContainerConfig, _ string) error {
		sb.Labels, sb.Annotations, c.Labels, c.Annotations = full.Labels, full.Annotations, fullC.Labels, fullC.Annotations
		c.Envs = fullC.Envs
		return nil
	}},
	{"+ termination-log file mount (file created)", func(f *floorEnv, p *floorPod, _, _ *runtimeapi.PodSandboxConfig, _, c *runtimeapi.ContainerConfig, uid string) error {
		file, err := floorFile(f, p, uid, "termination-log", "")
		c.Mounts = append(c.Mounts, &runtimeapi.Mount{ContainerPath: "/dev/termination-log", HostPath: file})
		return err
	}},
	{"+ /etc/hosts file mount (file written)", func(f *floorEnv, p *floorPod, _, _ *runtimeapi.PodSandboxConfig, _, c *runtimeapi.ContainerConfig, uid string) error {
		file, err := floorFile(f, p, uid, "etc-hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n")
		c.Mounts = append(c.Mounts, &runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: file})
		return err
	}},
	{"+ emptyDir mount (a directory, read-write)", func(f *floorEnv, p *floorPod, _, _ *runtimeapi.PodSandboxConfig, _, c *runtimeapi.ContainerConfig, uid string) error {
		dir := filepath.Join(f.node.RootDir, "pods", uid, "volumes", "data")
		p.podDirID = uid
		c.Mounts = append(c.Mounts, &runtimeapi.Mount{ContainerPath: "/data", HostPath: dir})
		return os.MkdirAll(dir, 0o750)
	}},
	{"+ hostPath mount (a host directory, read-only)", func(_ *floorEnv, _ *floorPod, _, _ *runtimeapi.PodSandboxConfig, _, c *runtimeapi.ContainerConfig, _ string) error {
		c.Mounts = append(c.Mounts, &runtimeapi.Mount{ContainerPath: "/host", HostPath: "/usr/share", Readonly: true})
		return nil
	}},
	{"+ pod network (CNI bridge) instead of the host's", func(_ *floorEnv, _ *floorPod, _, sb *runtimeapi.PodSandboxConfig, _, c *runtimeapi.ContainerConfig, _ string) error {
		sb.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_POD
		c.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_POD
		return nil
	}},
}

func floorFile(f *floorEnv, p *floorPod, uid, name, content string) (string, error) {
	dir := filepath.Join(f.node.RootDir, "pods", uid)
	p.podDirID = uid
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	file := filepath.Join(dir, name)
	return file, os.WriteFile(file, []byte(content), 0o644)
}

// fullPod writes what bosun writes before it creates a pod and returns the
// configs bosun's translation makes for it.
func (f *floorEnv) fullPod(name string, p *floorPod) (*runtimeapi.PodSandboxConfig, *runtimeapi.ContainerConfig, string, error) {
	sp, err := manifest.Load(name+".yaml", []byte(benchPod(name, 0)), f.node.Name)
	if err != nil {
		return nil, nil, "", err
	}
	cfg := bosunruntime.SandboxConfig(sp, 0, f.node, time.Now())
	cfg.Labels[bosunruntime.LabelManaged] = "bench" // not bosun's
	if err := podfs.MkdirIn(f.node.PodLogsDir, cfg.LogDirectory, 0o755); err != nil {
		return nil, nil, "", err
	}
	p.cgroup = bosunruntime.CgroupParent(f.node.CgroupDriver, sp.UID)
	if err := podcgroup.Write(podcgroup.Root, p.cgroup, podcgroup.ForPod(sp.Pod, f.node)); err != nil {
		return nil, nil, "", err
	}
	c := &sp.Pod.Spec.Containers[0]
	p.podDirID = sp.UID
	mounts, err := (&podfs.FS{Node: f.node, Log: quietLog()}).PrepareMounts(sp, c, 0, "")
	if err != nil {
		return nil, nil, "", err
	}
	ccfg := bosunruntime.ContainerConfig(sp, c, 0, f.node, bosunruntime.ContainerExtras{Mounts: mounts})
	ccfg.Labels[bosunruntime.LabelManaged] = "bench"
	return cfg, ccfg, sp.UID, nil
}

// translate is bosun's translation of the bench pod name, without mounts
// and without writing anything: it gives the elements their values.
func (f *floorEnv) translate(name string) (*runtimeapi.PodSandboxConfig, *runtimeapi.ContainerConfig, string, error) {
	sp, err := manifest.Load(name+".yaml", []byte(benchPod(name, 0)), f.node.Name)
	if err != nil {
		return nil, nil, "", err
	}
	cfg := bosunruntime.SandboxConfig(sp, 0, f.node, time.Now())
	ccfg := bosunruntime.ContainerConfig(sp, &sp.Pod.Spec.Containers[0], 0, f.node, bosunruntime.ContainerExtras{})
	cfg.Labels[bosunruntime.LabelManaged], ccfg.Labels[bosunruntime.LabelManaged] = "bench", "bench"
	return cfg, ccfg, sp.UID, nil
}

// barePod is the bench pod with nothing but its image, command and
// namespaces (host network).
func barePod(name, uid string, full *runtimeapi.PodSandboxConfig, fullC *runtimeapi.ContainerConfig) (*runtimeapi.PodSandboxConfig, *runtimeapi.ContainerConfig) {
	sb := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Uid: uid, Namespace: "default"},
		Labels:   map[string]string{bosunruntime.LabelManaged: "bench"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: proto.Clone(full.Linux.SecurityContext.NamespaceOptions).(*runtimeapi.NamespaceOption),
		}},
	}
	c := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "main"},
		Image:    fullC.Image,
		Command:  fullC.Command,
		Args:     fullC.Args,
		Labels:   map[string]string{bosunruntime.LabelManaged: "bench"},
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
			NamespaceOptions: proto.Clone(fullC.Linux.SecurityContext.NamespaceOptions).(*runtimeapi.NamespaceOption),
		}},
	}
	return sb, c
}

// run times one floor pod: RunPodSandbox, CreateContainer and
// StartContainer, after what is written for it. el nil is bosun's configs,
// with everything bosun writes first (log directory, pod cgroup, mounted
// files); otherwise the bare pod plus the element, whose own writes count.
func (f *floorEnv) run(name string, el *floorElement) (time.Duration, floorPod, error) {
	ctx := context.Background()
	var p floorPod
	var sb *runtimeapi.PodSandboxConfig
	var c *runtimeapi.ContainerConfig
	var err error
	var start time.Time
	if el == nil {
		start = time.Now()
		sb, c, _, err = f.fullPod(name, &p)
	} else {
		full, fullC, uid, terr := f.translate(name)
		if terr != nil {
			return 0, p, fmt.Errorf("floor pod %s: %w", name, terr)
		}
		sb, c = barePod(name, uid, full, fullC)
		start = time.Now()
		if el.apply != nil {
			err = el.apply(f, &p, full, sb, fullC, c, uid)
		}
	}
	if err != nil {
		return 0, p, fmt.Errorf("floor pod %s: %w", name, err)
	}
	p.phases = callSums{}
	p.phases.add("files", time.Since(start))
	t := time.Now()
	id, err := cri.RunPodSandbox(ctx, sb, "")
	if err != nil {
		return 0, p, fmt.Errorf("floor pod %s: %w", name, err)
	}
	p.phases.add("RunPodSandbox", time.Since(t))
	p.sandbox = id
	t = time.Now()
	cid, err := cri.CreateContainer(ctx, id, c, sb)
	if err != nil {
		return 0, p, fmt.Errorf("floor pod %s: %w", name, err)
	}
	p.phases.add("CreateContainer", time.Since(t))
	t = time.Now()
	if err := cri.StartContainer(ctx, cid); err != nil {
		return 0, p, fmt.Errorf("floor pod %s: %w", name, err)
	}
	p.phases.add("StartContainer", time.Since(t))
	return time.Since(start), p, nil
}

// undo removes a floor pod and what was written for it.
func (f *floorEnv) undo(p floorPod) {
	if p.sandbox != "" && p.phases != nil {
		// Timed: the floor of a removal (and of the first half of a
		// replacement).
		t := time.Now()
		_ = cri.StopPodSandbox(context.Background(), p.sandbox)
		p.phases.add("StopPodSandbox", time.Since(t))
		t = time.Now()
		_ = cri.RemovePodSandbox(context.Background(), p.sandbox)
		p.phases.add("RemovePodSandbox", time.Since(t))
	} else if p.sandbox != "" {
		removeSandbox(p.sandbox)
	}
	if p.cgroup != "" {
		_ = podcgroup.Remove(podcgroup.Root, p.cgroup)
	}
	if p.podDirID != "" {
		_ = os.RemoveAll(filepath.Join(f.node.RootDir, "pods", p.podDirID))
	}
}

// undoAll removes floor pods four at a time.
func (f *floorEnv) undoAll(ps []floorPod) {
	ch := make(chan floorPod)
	var wg stdsync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range ch {
				f.undo(p)
			}
		}()
	}
	for _, p := range ps {
		ch <- p
	}
	close(ch)
	wg.Wait()
}

// sequential runs an element (nil: bosun's configs) runs times, one pod at a
// time, after one warm-up pod.
func (f *floorEnv) sequential(t *testing.T, tag string, el *floorElement, runs int) ([]time.Duration, callSums) {
	var ds []time.Duration
	sums := callSums{}
	for i := -1; i < runs; i++ {
		d, p, err := f.run(fmt.Sprintf("fl-%s-%d", tag, i+1), el)
		f.undo(p) // adds the removal to p.phases
		if err != nil {
			t.Fatal(err)
		}
		if i >= 0 {
			ds = append(ds, d)
			sums.merge(p.phases)
		}
	}
	return ds, sums
}

// parallel starts n pods with bosun's configs, k at a time (k >= n: all at
// once, as bosun does today), and returns the time until the last started
// and the time of each phase.
func (f *floorEnv) parallel(t *testing.T, n, k int) (time.Duration, callSums) {
	names := make(chan string, n)
	for i := range n {
		names <- fmt.Sprintf("fp%d-%d-%d", n, k, i)
	}
	close(names)
	var mu stdsync.Mutex
	var pods []floorPod
	var firstErr error
	var wg stdsync.WaitGroup
	start := time.Now()
	for range min(k, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range names {
				_, p, err := f.run(name, nil)
				mu.Lock()
				pods = append(pods, p)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	f.undoAll(pods)
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	sums := callSums{}
	for _, p := range pods {
		sums.merge(p.phases)
	}
	return d, sums
}
