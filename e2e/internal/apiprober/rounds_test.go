package apiprober

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestRoundArithmetic(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 100 * time.Millisecond) }
	e1, e2 := errors.New("down 1"), errors.New("down 2")
	// good, good, fail(e1, wrote p-3), fail(e2), good, fail(e2), good, good
	rounds := []Round{
		{At: at(0), Wrote: "p-1"},
		{At: at(1), Wrote: "p-2"},
		{At: at(2), Wrote: "p-3", Err: e1},
		{At: at(3), Err: e2},
		{At: at(4), Wrote: "p-5"},
		{At: at(5), Err: e2},
		{At: at(6), Wrote: "p-7"},
		{At: at(7), Wrote: "p-8"},
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		n        int
		first    error
	}{
		{"all rounds with no end", time.Time{}, time.Time{}, 3, e1},
		{"from is inclusive", at(3), time.Time{}, 2, e2},
		{"to is exclusive", at(0), at(5), 2, e1},
		{"a window with no failure", at(6), at(8), 0, nil},
	} {
		t.Run("Failures: "+tc.name, func(t *testing.T) {
			n, first := Failures(rounds, tc.from, tc.to)
			if n != tc.n || !errors.Is(first, tc.first) {
				t.Fatalf("Failures = %d, %v; want %d, %v", n, first, tc.n, tc.first)
			}
		})
	}
	for _, tc := range []struct {
		name            string
		rounds          []Round
		from            time.Time
		firstFail, recv time.Time
	}{
		{"recovery follows the last failure", rounds, time.Time{}, at(2), at(6)},
		{"failures before from do not count", rounds, at(4), at(5), at(6)},
		{"no failure after from", rounds, at(6), time.Time{}, time.Time{}},
		{"not recovered yet", rounds[:6], time.Time{}, at(2), time.Time{}},
	} {
		t.Run("Outage: "+tc.name, func(t *testing.T) {
			ff, rec := Outage(tc.rounds, tc.from)
			if !ff.Equal(tc.firstFail) || !rec.Equal(tc.recv) {
				t.Fatalf("Outage = %s, %s; want %s, %s", ff, rec, tc.firstFail, tc.recv)
			}
		})
	}
	if got, want := Written(rounds, at(5)), []string{"p-1", "p-2", "p-3", "p-5"}; !slices.Equal(got, want) {
		t.Errorf("Written before round 5 = %v, want %v", got, want)
	}
	if got := Written(rounds, at(0)); len(got) != 0 {
		t.Errorf("Written before the first round = %v, want none", got)
	}
}
