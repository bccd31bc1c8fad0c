package imagegc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// Period is how often the kubelet collects images (ImageGCPeriod).
const Period = 5 * time.Minute

// Runtime is the CRI calls the collector uses; RemoveImage is its only
// mutating call, and it never touches a container.
type Runtime interface {
	ListImages(ctx context.Context) ([]*runtimeapi.Image, error)
	ImageStatus(ctx context.Context, image string) (*runtimeapi.Image, error)
	ImageFsInfo(ctx context.Context) ([]*runtimeapi.FilesystemUsage, error)
	RemoveImage(ctx context.Context, id string) error
	ListContainers(ctx context.Context, labels map[string]string) ([]*runtimeapi.Container, error)
}

// EventType names what a collection reports.
type EventType string

// The events of a collection, named as the kubelet names its own where it
// has one.
const (
	// EventImageRemoved: one image was removed (bosun's; the kubelet only logs it).
	EventImageRemoved EventType = "ImageRemoved"
	// EventFreeDiskSpaceFailed: the removable images cannot bring the
	// filesystem down to the low threshold.
	EventFreeDiskSpaceFailed EventType = "FreeDiskSpaceFailed"
	// EventImageGCFailed: the collection failed.
	EventImageGCFailed EventType = "ImageGCFailed"
)

// Config configures a Collector.
type Config struct {
	Runtime Runtime
	Policy  Policy
	// Wanted returns the images the manifests name (desired pods, whether
	// running or not); they are kept, by name and by the ID they resolve to.
	Wanted func() []string
	// Report is told each event; nil: none.
	Report func(t EventType, message string)
	// Removed is told each image removed and its size; nil: none.
	Removed func(r Reason, bytes uint64)
	// Statfs reads a filesystem's size; nil: statfs(2).
	Statfs func(path string) (FS, error)
	// Clock is the real clock when nil.
	Clock clock.WithTicker
	// Period is the time between collections; Period when 0.
	Period time.Duration
	Log    *slog.Logger
}

// Collector removes unused images periodically.
type Collector struct {
	cfg     Config
	records Records
	started time.Time
	first   bool
}

// New returns a Collector; its records start at its first collection.
func New(cfg Config) *Collector {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Statfs == nil {
		cfg.Statfs = statfs
	}
	if cfg.Period == 0 {
		cfg.Period = Period
	}
	if cfg.Wanted == nil {
		cfg.Wanted = func() []string { return nil }
	}
	if cfg.Report == nil {
		cfg.Report = func(EventType, string) {}
	}
	if cfg.Removed == nil {
		cfg.Removed = func(Reason, uint64) {}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Collector{cfg: cfg, records: Records{}, started: cfg.Clock.Now(), first: true}
}

// Run records the images present and in use at once, then collects every
// period until ctx ends; a failed collection is reported and retried at the
// next period.
func (c *Collector) Run(ctx context.Context) {
	if err := c.Detect(ctx); err != nil && ctx.Err() == nil {
		c.cfg.Log.Warn("image garbage collection: listing images", "err", err)
	}
	t := c.cfg.Clock.NewTicker(c.cfg.Period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		if err := c.Collect(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Log.Warn("image garbage collection failed", "err", err)
			c.cfg.Report(EventImageGCFailed, err.Error())
		}
	}
}

// Detect records the images present and those in use, without removing
// any: images present at the first detection count as old.
func (c *Collector) Detect(ctx context.Context) error {
	inUse, images, err := c.observe(ctx)
	if err != nil {
		return err
	}
	c.records.Observe(images, inUse, c.cfg.Clock.Now(), c.first)
	c.first = false
	return nil
}

// Collect runs one collection: it lists what is in use and the images,
// plans, and removes. It fails closed: when what is in use cannot be known,
// nothing is removed.
func (c *Collector) Collect(ctx context.Context) error {
	now := c.cfg.Clock.Now()
	inUse, images, err := c.observe(ctx)
	if err != nil {
		return err
	}
	seen := c.records.Observe(images, inUse, now, c.first)
	c.first = false
	fs, err := c.imageFS(ctx)
	if err != nil {
		return err
	}
	res := Plan(Input{Images: seen, InUse: inUse, FS: fs, Policy: c.cfg.Policy, Now: now, Started: c.started})
	if res.Wanted > 0 {
		c.cfg.Log.Info("image filesystem above the high threshold: removing unused images", "usedPercent", usedPercent(fs),
			"highThresholdPercent", c.cfg.Policy.HighThresholdPercent, "bytesToFree", res.Wanted)
	}
	var errs []error
	var freed uint64
	for _, r := range res.Remove {
		if err := c.cfg.Runtime.RemoveImage(ctx, r.Image.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove image %s: %w", r.Image.ID, err))
			continue
		}
		delete(c.records, r.Image.ID)
		if r.Reason == ReasonDiskPressure {
			freed += r.Image.Size
		}
		c.cfg.Removed(r.Reason, r.Image.Size)
		c.cfg.Log.Info("image removed", "image", r.Image.ID, "names", r.Image.Names, "bytes", r.Image.Size, "reason", r.Reason)
		c.cfg.Report(EventImageRemoved, fmt.Sprintf("removed image %s %v (%d bytes): %s", r.Image.ID, r.Image.Names, r.Image.Size, describe(r.Reason)))
	}
	if res.Wanted > 0 && freed < res.Wanted && len(errs) == 0 {
		msg := fmt.Sprintf("failed to garbage collect required amount of images: attempted to free %d bytes, but only found %d bytes eligible to free", res.Wanted, freed)
		c.cfg.Log.Warn(msg)
		c.cfg.Report(EventFreeDiskSpaceFailed, msg)
	}
	return errors.Join(errs...)
}

// observe lists the images and the IDs of those in use: the image of every
// container of the runtime in any state, and every image the manifests
// name, by name and by the ID the runtime resolves it to.
func (c *Collector) observe(ctx context.Context) (map[string]bool, []Image, error) {
	wanted := c.cfg.Wanted()
	containers, err := c.cfg.Runtime.ListContainers(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("list containers: %w", err)
	}
	list, err := c.cfg.Runtime.ListImages(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list images: %w", err)
	}
	inUse := map[string]bool{}
	var refs []string
	for _, ctr := range containers {
		// ImageId is the image's ID (what the kubelet's GC uses); ImageRef
		// is the ID or a digested name, and Image the name it was made from.
		for _, ref := range []string{ctr.ImageId, ctr.ImageRef, ctr.GetImage().GetImage()} {
			if ref != "" {
				refs = append(refs, ref)
			}
		}
	}
	refs = append(refs, wanted...)
	byName := map[string]string{}
	images := make([]Image, 0, len(list))
	for _, img := range list {
		names := append(append([]string(nil), img.RepoTags...), img.RepoDigests...)
		byName[img.Id] = img.Id
		for _, n := range names {
			byName[n] = img.Id
		}
		images = append(images, Image{ID: img.Id, Names: names, Size: img.Size, Pinned: img.Pinned})
	}
	for _, ref := range refs {
		if id, ok := byName[ref]; ok {
			inUse[id] = true
			continue
		}
		img, err := c.cfg.Runtime.ImageStatus(ctx, ref)
		if err != nil {
			return nil, nil, fmt.Errorf("image %s in use: %w", ref, err)
		}
		if img != nil {
			inUse[img.Id] = true
		}
	}
	return inUse, images, nil
}

// imageFS is the size and free space of the filesystem the runtime keeps
// its images on.
func (c *Collector) imageFS(ctx context.Context) (FS, error) {
	fss, err := c.cfg.Runtime.ImageFsInfo(ctx)
	if err != nil {
		return FS{}, fmt.Errorf("image filesystem: %w", err)
	}
	for _, f := range fss {
		if mp := f.GetFsId().GetMountpoint(); mp != "" {
			fs, err := c.cfg.Statfs(mp)
			if err != nil {
				return FS{}, fmt.Errorf("image filesystem %s: %w", mp, err)
			}
			return fs, nil
		}
	}
	return FS{}, errors.New("image filesystem: the runtime names no mountpoint")
}

func statfs(path string) (FS, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return FS{}, err
	}
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	return FS{Capacity: st.Blocks * bs, Available: st.Bavail * bs}, nil
}

func usedPercent(fs FS) int {
	if fs.Capacity == 0 {
		return 0
	}
	return 100 - int(min(fs.Available, fs.Capacity)*100/fs.Capacity)
}

func describe(r Reason) string {
	if r == ReasonMaxAge {
		return "unused for longer than imageMaximumGCAge"
	}
	return "image filesystem above imageGCHighThresholdPercent"
}
