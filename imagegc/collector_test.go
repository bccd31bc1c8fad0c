package imagegc

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bosun-sh/bosun/manifest"
)

// fakeRuntime is the runtime's images and containers; it records removals.
type fakeRuntime struct {
	images     []*runtimeapi.Image
	containers []*runtimeapi.Container
	listErr    error
	removed    []string
}

func (f *fakeRuntime) ListImages(context.Context) ([]*runtimeapi.Image, error) { return f.images, nil }

func (f *fakeRuntime) ImageStatus(_ context.Context, ref string) (*runtimeapi.Image, error) {
	for _, img := range f.images {
		// The runtime resolves short names; the fake knows one.
		if img.Id == ref || slices.Contains(img.RepoTags, "docker.io/library/"+ref) {
			return img, nil
		}
	}
	return nil, nil
}

func (f *fakeRuntime) ImageFsInfo(context.Context) ([]*runtimeapi.FilesystemUsage, error) {
	return []*runtimeapi.FilesystemUsage{{FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: "/var/lib/containerd/snapshots"}}}, nil
}

func (f *fakeRuntime) RemoveImage(_ context.Context, id string) error {
	f.removed = append(f.removed, id)
	return nil
}

func (f *fakeRuntime) ListContainers(context.Context, map[string]string) ([]*runtimeapi.Container, error) {
	return f.containers, f.listErr
}

func newFake() *fakeRuntime {
	img := func(id, tag string, pinned bool) *runtimeapi.Image {
		return &runtimeapi.Image{Id: id, RepoTags: []string{tag}, Size: 10, Pinned: pinned}
	}
	return &fakeRuntime{
		images: []*runtimeapi.Image{
			img("sha256:running", "registry.k8s.io/etcd:3.5", false),
			img("sha256:exited", "registry.k8s.io/kube-apiserver:v1.30", false),
			img("sha256:manifest", "docker.io/library/nginx:1", false),
			img("sha256:pause", "registry.k8s.io/pause:3.10", true),
			img("sha256:old-etcd", "registry.k8s.io/etcd:3.4", false),
			img("sha256:old-apiserver", "registry.k8s.io/kube-apiserver:v1.29", false),
		},
		containers: []*runtimeapi.Container{
			{Id: "c1", ImageId: "sha256:running", ImageRef: "registry.k8s.io/etcd@sha256:0123", State: runtimeapi.ContainerState_CONTAINER_RUNNING},
			// An exited container whose runtime gives only the name it was made from.
			{Id: "c2", Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/kube-apiserver:v1.30"}, State: runtimeapi.ContainerState_CONTAINER_EXITED},
		},
	}
}

func TestCollectorRemovesOnlyImagesNoContainerManifestOrRuntimeKeeps(t *testing.T) {
	rt := newFake()
	var events []EventType
	var bytes uint64
	c := New(Config{
		Runtime: rt, Policy: DefaultPolicy,
		Wanted:  func() []string { return []string{"nginx:1"} },
		Statfs:  func(string) (FS, error) { return FS{Capacity: 100, Available: 5}, nil },
		Report:  func(e EventType, _ string) { events = append(events, e) },
		Removed: func(_ Reason, n uint64) { bytes += n },
		Clock:   clocktesting.NewFakeClock(t0),
	})
	if err := c.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	slices.Sort(rt.removed)
	if want := []string{"sha256:old-apiserver", "sha256:old-etcd"}; !slices.Equal(rt.removed, want) {
		t.Errorf("removed %v, want %v", rt.removed, want)
	}
	if bytes != 20 {
		t.Errorf("bytes freed: %d, want 20", bytes)
	}
	// 95% used: 15 bytes to free, and the two images free 20: no FreeDiskSpaceFailed.
	if !slices.Equal(events, []EventType{EventImageRemoved, EventImageRemoved}) {
		t.Errorf("events %v", events)
	}
}

func TestCollectorSaysWhenItCannotFreeEnough(t *testing.T) {
	rt := newFake()
	var events []EventType
	c := New(Config{
		Runtime: rt, Policy: DefaultPolicy,
		Statfs: func(string) (FS, error) { return FS{Capacity: 1000, Available: 10}, nil },
		Report: func(e EventType, _ string) { events = append(events, e) },
		Clock:  clocktesting.NewFakeClock(t0),
	})
	if err := c.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if events[len(events)-1] != EventFreeDiskSpaceFailed {
		t.Errorf("events %v, want FreeDiskSpaceFailed last", events)
	}
}

func TestCollectorRemovesNothingWhenItCannotListContainers(t *testing.T) {
	rt := newFake()
	rt.listErr = errors.New("unavailable")
	c := New(Config{Runtime: rt, Policy: DefaultPolicy, Clock: clocktesting.NewFakeClock(t0),
		Statfs: func(string) (FS, error) { return FS{Capacity: 100}, nil }})
	if err := c.Collect(context.Background()); err == nil || len(rt.removed) != 0 {
		t.Errorf("err %v, removed %v", err, rt.removed)
	}
}

func TestCollectorKeepsImagesItFirstSeesAfterStartForTheMinimumAge(t *testing.T) {
	rt := newFake()
	all := rt.images
	rt.images = all[:4] // the old images arrive after the first collection
	clk := clocktesting.NewFakeClock(t0)
	c := New(Config{Runtime: rt, Policy: DefaultPolicy, Clock: clk, Wanted: func() []string { return []string{"nginx:1"} },
		Statfs: func(string) (FS, error) { return FS{Capacity: 100, Available: 5}, nil }})
	if err := c.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	rt.images = all
	clk.Step(time.Minute)
	if err := c.Collect(context.Background()); err != nil || len(rt.removed) != 0 {
		t.Fatalf("a minute after they arrived: err %v, removed %v", err, rt.removed)
	}
	clk.Step(2 * time.Minute)
	if err := c.Collect(context.Background()); err != nil || len(rt.removed) != 2 {
		t.Errorf("three minutes after they arrived: err %v, removed %v", err, rt.removed)
	}
}

func TestManifestImagesAreEveryContainersImageOnce(t *testing.T) {
	pod := func(images ...string) *manifest.StaticPod {
		p := &corev1.Pod{}
		p.Spec.InitContainers = []corev1.Container{{Image: images[0]}}
		for _, img := range images[1:] {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Image: img})
		}
		return &manifest.StaticPod{Pod: p}
	}
	got := ManifestImages(manifest.Snapshot{Pods: []*manifest.StaticPod{pod("busybox", "etcd:3.5")}},
		manifest.Snapshot{Pods: []*manifest.StaticPod{pod("busybox", "etcd:3.4"), nil}})
	if want := []string{"busybox", "etcd:3.5", "etcd:3.4"}; !slices.Equal(got, want) {
		t.Errorf("ManifestImages = %v, want %v", got, want)
	}
}

func TestRunOnlyRecordsAtStartAndCollectsEachPeriod(t *testing.T) {
	rt := newFake()
	clk := clocktesting.NewFakeClock(t0)
	c := New(Config{Runtime: rt, Policy: DefaultPolicy, Clock: clk, Wanted: func() []string { return []string{"nginx:1"} },
		Statfs: func(string) (FS, error) { return FS{Capacity: 100, Available: 5}, nil }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	removed := make(chan int, 1)
	rt2 := &countingRuntime{fakeRuntime: rt, removed: removed}
	c.cfg.Runtime = rt2
	go func() { defer close(done); c.Run(ctx) }()
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	if n := len(rt.removed); n != 0 {
		t.Errorf("removed %d images at start, want none before the first period", n)
	}
	clk.Step(Period)
	<-removed
	cancel()
	<-done
}

// countingRuntime says when a removal happens.
type countingRuntime struct {
	*fakeRuntime
	removed chan int
}

func (r *countingRuntime) RemoveImage(ctx context.Context, id string) error {
	err := r.fakeRuntime.RemoveImage(ctx, id)
	select {
	case r.removed <- len(r.fakeRuntime.removed):
	default:
	}
	return err
}
