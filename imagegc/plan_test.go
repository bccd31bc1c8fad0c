package imagegc

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return t0.Add(-d) }

func TestPlanRemovesUnusedImagesOldestFirstDownToTheLowThreshold(t *testing.T) {
	const gb = 1 << 30
	full := FS{Capacity: 100 * gb, Available: 10 * gb} // 90% used: free 10 GB to reach 80%
	old := func(id string, size uint64, lastUsed time.Duration) Image {
		return Image{ID: id, Size: size * gb, LastUsed: ago(lastUsed), FirstSeen: ago(48 * time.Hour)}
	}
	for _, tc := range []struct {
		name   string
		images []Image
		inUse  []string
		fs     FS
		policy Policy
		want   []string
		short  uint64
	}{
		{
			name:   "below the high threshold nothing is removed",
			images: []Image{old("a", 5, time.Hour)},
			fs:     FS{Capacity: 100 * gb, Available: 16 * gb}, policy: DefaultPolicy,
		},
		{
			name:   "at the high threshold images are removed, least recently used first, until the low threshold",
			images: []Image{old("recent", 6, time.Minute*10), old("oldest", 4, 5*time.Hour), old("older", 4, 3*time.Hour), old("newest", 6, time.Minute*5)},
			fs:     FS{Capacity: 100 * gb, Available: 15 * gb}, policy: DefaultPolicy,
			want: []string{"oldest", "older"}, // 5 GB to free: 4 + 4
		},
		{
			name:   "an image a container or a manifest uses is never removed",
			images: []Image{old("used", 20, 5*time.Hour), old("free", 3, time.Hour)},
			inUse:  []string{"used"}, fs: full, policy: DefaultPolicy,
			want: []string{"free"}, short: 7 * gb,
		},
		{
			name:   "a pinned image (the sandbox image) is never removed",
			images: []Image{{ID: "pause", Size: 20 * gb, Pinned: true}},
			fs:     full, policy: DefaultPolicy, short: 10 * gb,
		},
		{
			name:   "an image first seen less than imageMinimumGCAge ago is kept",
			images: []Image{{ID: "young", Size: 20 * gb, FirstSeen: ago(time.Minute)}, {ID: "aged", Size: 20 * gb, FirstSeen: ago(3 * time.Minute)}},
			fs:     full, policy: DefaultPolicy, want: []string{"aged"},
		},
		{
			name:   "never-used images go before used ones, then by first sight",
			images: []Image{old("used-long-ago", 10, 10*time.Hour), {ID: "never-used", Size: 10 * gb, FirstSeen: ago(time.Hour)}},
			fs:     full, policy: DefaultPolicy, want: []string{"never-used"},
		},
		{
			name:   "imageGCHighThresholdPercent 100 turns usage-based collection off",
			images: []Image{old("a", 5, time.Hour)},
			fs:     FS{Capacity: 100 * gb}, policy: Policy{HighThresholdPercent: 100, LowThresholdPercent: 80},
		},
		{
			name:   "imageMaximumGCAge removes images unused for longer, whatever the usage",
			images: []Image{old("stale", 1, 25*time.Hour), old("fresh", 1, time.Hour), old("stale-but-used", 1, 25*time.Hour)},
			inUse:  []string{"stale-but-used"},
			fs:     FS{Capacity: 100 * gb, Available: 90 * gb}, policy: Policy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: 2 * time.Minute, MaxAge: 24 * time.Hour},
			want: []string{"stale"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inUse := map[string]bool{}
			for _, id := range tc.inUse {
				inUse[id] = true
			}
			res := Plan(Input{Images: tc.images, InUse: inUse, FS: tc.fs, Policy: tc.policy, Now: t0, Started: ago(72 * time.Hour)})
			var got []string
			for _, r := range res.Remove {
				got = append(got, r.Image.ID)
			}
			if !slices.Equal(got, tc.want) || res.Short != tc.short {
				t.Errorf("removes %v (short %d), want %v (short %d)", got, res.Short, tc.want, tc.short)
			}
		})
	}
}

func TestPlanWaitsImageMaximumGCAgeAfterStartBeforeRemovingByAge(t *testing.T) {
	p := Policy{HighThresholdPercent: 85, LowThresholdPercent: 80, MaxAge: time.Hour}
	in := Input{Images: []Image{{ID: "a", Size: 1}}, Policy: p, FS: FS{Capacity: 100, Available: 100}, Now: t0, Started: ago(30 * time.Minute)}
	if res := Plan(in); len(res.Remove) != 0 {
		t.Errorf("removed %v half an hour after the start", res.Remove)
	}
}

func TestPolicyValidateRefusesWhatTheKubeletRefuses(t *testing.T) {
	for _, p := range []Policy{
		{HighThresholdPercent: 101, LowThresholdPercent: 80},
		{HighThresholdPercent: 85, LowThresholdPercent: -1},
		{HighThresholdPercent: 80, LowThresholdPercent: 80},
		{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: time.Hour, MaxAge: time.Minute},
	} {
		if p.Validate() == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if err := DefaultPolicy.Validate(); err != nil {
		t.Error(err)
	}
}

func TestRecordsStartOldAndTrackUse(t *testing.T) {
	r := Records{}
	imgs := []Image{{ID: "a"}, {ID: "b"}}
	got := r.Observe(imgs, map[string]bool{"a": true}, t0, true)
	if !got[0].FirstSeen.IsZero() || !got[0].LastUsed.Equal(t0) || !got[1].LastUsed.IsZero() {
		t.Errorf("first observation: %+v", got)
	}
	later := t0.Add(time.Hour)
	got = r.Observe([]Image{{ID: "a"}, {ID: "c"}}, nil, later, false)
	if !got[0].LastUsed.Equal(t0) || !got[1].FirstSeen.Equal(later) {
		t.Errorf("second observation: %+v", got)
	}
	if _, ok := r["b"]; ok {
		t.Error("the record of an image no longer listed is kept")
	}
}
