package sync

import (
	"context"
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestMaxParallelImagePullsHoldsAPullWhileTheSlotsAreTaken(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max      int
		taken    int
		wantPull bool
	}{
		{"serialized pulls (1): a pull waits while another is in flight", 1, 1, false},
		{"maxParallelImagePulls 2: a second pull goes ahead", 2, 1, true},
		{"maxParallelImagePulls 2: a third pull waits", 2, 2, false},
		{"no bound: a pull goes ahead", 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.loop = New(Config{Runtime: h.rt, Source: h.src, Clock: h.clock, MaxParallelImagePulls: tc.max})
			for range tc.taken {
				if err := h.loop.cfg.pulls.acquire(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			// An ended context: a pull that would wait gives up at once.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			c := &corev1.Container{Name: "main", Image: "missing:1", ImagePullPolicy: corev1.PullIfNotPresent}
			_, err := h.loop.ensureImage(ctx, c, nil)
			h.rt.mu.Lock()
			pulled := slices.Contains(h.rt.calls, "PullImage")
			h.rt.mu.Unlock()
			if pulled != tc.wantPull {
				t.Errorf("PullImage called: %v, want %v (err %v)", pulled, tc.wantPull, err)
			}
			if !tc.wantPull && !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want the wait's context.Canceled", err)
			}
		})
	}
}
