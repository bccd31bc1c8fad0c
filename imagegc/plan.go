// Package imagegc removes unused images as the kubelet's image garbage
// collector does (pkg/kubelet/images/image_gc_manager.go): when the image
// filesystem is used above the high threshold, unused images are removed,
// least recently used first, until it is down to the low threshold; images
// unused for longer than the maximum age are removed whatever the usage.
// An image a container uses (in any state), that a manifest names, that the
// runtime pins (the sandbox image), or that was first seen less than the
// minimum age ago is never removed. Plan is pure; Collector runs it against
// the runtime.
package imagegc

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Policy is the KubeletConfiguration's image GC fields.
type Policy struct {
	// HighThresholdPercent is imageGCHighThresholdPercent: usage at or above
	// it starts a collection; 100 turns usage-based collection off.
	HighThresholdPercent int
	// LowThresholdPercent is imageGCLowThresholdPercent: the usage a
	// collection frees down to.
	LowThresholdPercent int
	// MinAge is imageMinimumGCAge: an image first seen more recently is kept.
	MinAge time.Duration
	// MaxAge is imageMaximumGCAge: an unused image is removed once unused
	// for longer; 0 turns this off.
	MaxAge time.Duration
}

// DefaultPolicy is the kubelet's default policy.
var DefaultPolicy = Policy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: 2 * time.Minute}

// Validate reports what the kubelet's configuration validation refuses.
func (p Policy) Validate() error {
	switch {
	case p.HighThresholdPercent < 0 || p.HighThresholdPercent > 100:
		return fmt.Errorf("imageGCHighThresholdPercent %d: must be between 0 and 100", p.HighThresholdPercent)
	case p.LowThresholdPercent < 0 || p.LowThresholdPercent > 100:
		return fmt.Errorf("imageGCLowThresholdPercent %d: must be between 0 and 100", p.LowThresholdPercent)
	case p.LowThresholdPercent >= p.HighThresholdPercent:
		return fmt.Errorf("imageGCLowThresholdPercent %d: must be less than imageGCHighThresholdPercent %d", p.LowThresholdPercent, p.HighThresholdPercent)
	case p.MinAge < 0:
		return fmt.Errorf("imageMinimumGCAge %v: must not be negative", p.MinAge)
	case p.MaxAge < 0:
		return fmt.Errorf("imageMaximumGCAge %v: must not be negative", p.MaxAge)
	case p.MaxAge != 0 && p.MaxAge <= p.MinAge:
		return fmt.Errorf("imageMaximumGCAge %v: must be greater than imageMinimumGCAge %v", p.MaxAge, p.MinAge)
	}
	return nil
}

// Image is one image of the runtime, with what the collector remembers of it.
type Image struct {
	// ID is the runtime's image ID.
	ID string
	// Names are its tags and digests, for messages.
	Names []string
	// Size is its size in bytes, as the runtime reports it.
	Size uint64
	// Pinned is true for an image the runtime must keep (the sandbox image).
	Pinned bool
	// FirstSeen is when the collector first saw it; zero for an image
	// present when bosun started.
	FirstSeen time.Time
	// LastUsed is when the collector last saw it in use; zero if never.
	LastUsed time.Time
}

// FS is the image filesystem's size and free space in bytes.
type FS struct {
	Capacity  uint64
	Available uint64
}

// Reason says why an image is removed.
type Reason string

// The reasons Plan removes an image for.
const (
	// ReasonMaxAge: unused for longer than imageMaximumGCAge.
	ReasonMaxAge Reason = "MaxAge"
	// ReasonDiskPressure: the image filesystem is above the high threshold.
	ReasonDiskPressure Reason = "DiskPressure"
)

// Removal is one image Plan removes and why.
type Removal struct {
	Image  Image
	Reason Reason
}

// Input is everything Plan decides from.
type Input struct {
	Images []Image
	// InUse holds the IDs of the images that containers and manifests use.
	InUse map[string]bool
	FS    FS
	// Policy is the configuration.
	Policy Policy
	// Now is the time of this collection; Started is when bosun started
	// (MaxAge removes nothing before MaxAge has passed since).
	Now, Started time.Time
}

// Result is Plan's decision.
type Result struct {
	Remove []Removal
	// Wanted is the number of bytes to free for the filesystem to reach the
	// low threshold (0 below the high one); Short is how many of those no
	// removable image can free.
	Wanted, Short uint64
}

// Plan chooses the images to remove, in order: first those unused for
// longer than MaxAge, then, if the filesystem's usage is at or above the
// high threshold, the least recently used removable images (last use, then
// first seen, oldest first) until the bytes freed bring it to the low
// threshold. In-use, pinned and younger than MinAge images are never chosen.
func Plan(in Input) Result {
	candidates := removable(in)
	var res Result
	var rest []Image
	for _, img := range candidates {
		if in.Policy.MaxAge > 0 && in.Now.Sub(in.Started) > in.Policy.MaxAge && in.Now.Sub(lastActive(img)) > in.Policy.MaxAge {
			res.Remove = append(res.Remove, Removal{Image: img, Reason: ReasonMaxAge})
			continue
		}
		rest = append(rest, img)
	}
	res.Wanted = toFree(in.FS, in.Policy)
	if res.Wanted == 0 {
		return res
	}
	var freed uint64
	for _, r := range res.Remove {
		freed += r.Image.Size
	}
	for _, img := range rest {
		if freed >= res.Wanted {
			break
		}
		if in.Now.Sub(img.FirstSeen) < in.Policy.MinAge {
			continue
		}
		res.Remove = append(res.Remove, Removal{Image: img, Reason: ReasonDiskPressure})
		freed += img.Size
	}
	if freed < res.Wanted {
		res.Short = res.Wanted - freed
	}
	return res
}

// removable is the images neither in use nor pinned, least recently used
// first.
func removable(in Input) []Image {
	var out []Image
	for _, img := range in.Images {
		if !img.Pinned && !in.InUse[img.ID] {
			out = append(out, img)
		}
	}
	slices.SortStableFunc(out, func(a, b Image) int {
		return cmp.Or(a.LastUsed.Compare(b.LastUsed), a.FirstSeen.Compare(b.FirstSeen), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// lastActive is when an image was last used, or first seen if never used.
func lastActive(img Image) time.Time {
	if img.LastUsed.After(img.FirstSeen) {
		return img.LastUsed
	}
	return img.FirstSeen
}

// toFree is the kubelet's amount to free: when the usage is at or above the
// high threshold, the bytes that bring it down to the low one; else 0.
func toFree(fs FS, p Policy) uint64 {
	if fs.Capacity == 0 || p.HighThresholdPercent >= 100 {
		return 0
	}
	avail := min(fs.Available, fs.Capacity)
	usedPercent := 100 - int(avail*100/fs.Capacity)
	if usedPercent < p.HighThresholdPercent {
		return 0
	}
	target := fs.Capacity * uint64(100-p.LowThresholdPercent) / 100
	if target <= avail {
		return 0
	}
	return target - avail
}

// Records remembers, per image ID, when it was first seen and last used.
type Records map[string]Record

// Record is what Records holds of one image.
type Record struct {
	FirstSeen, LastUsed time.Time
}

// Observe updates r with the images listed now: an image not seen before is
// first seen now (at the zero time on the first call, so that images present
// when bosun starts are not young), an image in use is used now, and records
// of images no longer listed are dropped. It returns the images with their
// times.
func (r Records) Observe(images []Image, inUse map[string]bool, now time.Time, first bool) []Image {
	listed := make(map[string]bool, len(images))
	out := make([]Image, 0, len(images))
	for _, img := range images {
		listed[img.ID] = true
		rec, ok := r[img.ID]
		if !ok && !first {
			rec.FirstSeen = now
		}
		if inUse[img.ID] {
			rec.LastUsed = now
		}
		r[img.ID] = rec
		img.FirstSeen, img.LastUsed = rec.FirstSeen, rec.LastUsed
		out = append(out, img)
	}
	for id := range r {
		if !listed[id] {
			delete(r, id)
		}
	}
	return out
}
