package apiprober

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countSince counts the rounds that started after t, good or failed.
func countSince(p *Prober, t time.Time, good bool) func() error {
	return func() error {
		n := 0
		for _, r := range p.Rounds() {
			if r.At.After(t) && (r.Err == nil) == good {
				n++
			}
		}
		if n < 3 {
			return fmt.Errorf("%d rounds (good %v) since %s, want 3", n, good, t.Format(time.StampMicro))
		}
		return nil
	}
}

func TestProberThroughAnOutage(t *testing.T) {
	fake, kubeconfig := newFakeAPI(t)
	c, err := NewClient(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server() != fake.srv.URL {
		t.Fatalf("server %q, want %q", c.Server(), fake.srv.URL)
	}
	const ns, prefix = "default", "probe-x1"
	p := Start(c, ns, prefix, 20*time.Millisecond)
	defer p.Stop()

	eventually(t, 5*time.Second, "good rounds", countSince(p, time.Time{}, true))
	pre := p.Rounds()
	for _, r := range pre {
		if r.Err != nil {
			t.Fatalf("round at %s before the outage: %v", r.At, r.Err)
		}
	}
	lastPre := pre[len(pre)-1].At
	tOn := time.Now()
	fake.fail.Store(true)
	eventually(t, 5*time.Second, "failed rounds", countSince(p, tOn, false))
	tOff := time.Now()
	fake.fail.Store(false)
	eventually(t, 5*time.Second, "good rounds after the outage", countSince(p, tOff, true))
	rounds := p.Stop()

	if n, err := Failures(rounds, time.Time{}, lastPre.Add(time.Nanosecond)); n != 0 {
		t.Errorf("failures before the outage: %d, first %v", n, err)
	}
	n, first := Failures(rounds, tOn, tOff)
	if n < 3 || first == nil {
		t.Fatalf("failures in the outage: %d, first %v; want at least 3", n, first)
	}
	msg := first.Error()
	if !strings.Contains(msg, "503") || !strings.Contains(msg, `\x00`) || strings.ContainsAny(msg, "\x00\x1b") {
		t.Errorf("first failure %.300q...: want the status and the body escaped", msg)
	}
	if len(msg) > 4096*2 || len(msg) < 4096 {
		t.Errorf("first failure is %d bytes: want about 4 KiB of the body", len(msg))
	}

	firstFail, recovered := Outage(rounds, time.Time{})
	if !firstFail.After(lastPre) || !firstFail.Before(tOff) {
		t.Errorf("outage began %s, want after %s and before %s", firstFail, lastPre, tOff)
	}
	if recovered.IsZero() || !recovered.After(firstFail) {
		t.Fatalf("recovered %s, want after the first failure %s", recovered, firstFail)
	}
	for _, r := range rounds {
		if !r.At.Before(recovered) && r.Err != nil {
			t.Errorf("round at %s after recovery at %s failed: %v", r.At, recovered, r.Err)
		}
		if !r.At.Before(tOff) && r.At.Before(recovered) {
			t.Errorf("round at %s started after the outage ended but before recovery at %s", r.At, recovered)
		}
		if r.Err == nil && r.Wrote == "" {
			t.Errorf("good round at %s wrote nothing", r.At)
		}
		if r.Err != nil && strings.HasPrefix(r.Err.Error(), "write ") && r.Wrote != "" {
			t.Errorf("round at %s failed to write but says it wrote %s", r.At, r.Wrote)
		}
	}

	before := Written(rounds, tOn)
	if len(before) < len(pre) {
		t.Fatalf("written before the outage: %v, want at least the %d rounds before it", before, len(pre))
	}
	for i, name := range before[:len(pre)] {
		if want := fmt.Sprintf("%s-%d", prefix, i+1); name != want {
			t.Errorf("written[%d] = %s, want %s", i, name, want)
		}
	}
	all := Written(rounds, time.Now())
	ctx := context.Background()
	missing, err := c.Missing(ctx, ns, prefix, all)
	if err != nil || len(missing) != 0 {
		t.Fatalf("missing %v, %v; want none of %d", missing, err, len(all))
	}
	lost := all[len(all)/2]
	fake.forget(ns, lost)
	missing, err = c.Missing(ctx, ns, prefix, all)
	if err != nil || !slices.Equal(missing, []string{lost}) {
		t.Fatalf("missing %v, %v; want [%s]", missing, err, lost)
	}
	if missing, err := c.Missing(ctx, ns, "other", all[:2]); err != nil || len(missing) != 2 {
		t.Fatalf("missing under another prefix: %v, %v; want both", missing, err)
	}

	if conns, reqs := fake.newConns.Load(), fake.requests.Load(); conns != reqs {
		t.Errorf("%d connections for %d requests: want a fresh connection per request", conns, reqs)
	}
}

func TestProberRoundsNeverOverlap(t *testing.T) {
	fake, kubeconfig := newFakeAPI(t)
	fake.delay.Store(int64(30 * time.Millisecond))
	c, err := NewClient(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	p := Start(c, "default", "slow", 5*time.Millisecond)
	eventually(t, 5*time.Second, "slow rounds", countSince(p, time.Time{}, true))
	rounds := p.Stop()
	if len(p.Stop()) != len(rounds) {
		t.Fatal("a second Stop changed the rounds")
	}
	for i := 1; i < len(rounds); i++ {
		if prev := rounds[i-1]; rounds[i].At.Before(prev.At.Add(prev.Took)) {
			t.Errorf("round %d started at %s, before round %d ended at %s", i, rounds[i].At, i-1, prev.At.Add(prev.Took))
		}
	}
	if fake.overlap.Load() {
		t.Error("two requests were in flight at once")
	}
}

func TestProberFailsOnWrongData(t *testing.T) {
	fake, kubeconfig := newFakeAPI(t)
	fake.corrupt.Store(true)
	c, err := NewClient(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	p := Start(c, "default", "corrupt", 5*time.Millisecond)
	eventually(t, 5*time.Second, "failed rounds", countSince(p, time.Time{}, false))
	rounds := p.Stop()
	r := rounds[0]
	if r.Err == nil || !strings.Contains(r.Err.Error(), "read ConfigMap default/corrupt-1") || r.Wrote != "corrupt-1" {
		t.Fatalf("round %+v: want a read failure after the write of corrupt-1", r)
	}
}

func TestNewClientRejects(t *testing.T) {
	_, good := newFakeAPI(t)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(string) string{
		"no kubeconfig": nil,
		"two users": func(s string) string {
			i := strings.Index(s, "- name: kubernetes-admin\n")
			return s + s[i:]
		},
		"bad CA data": func(s string) string {
			return strings.Replace(s, "certificate-authority-data: ", "certificate-authority-data: !!", 1)
		},
		"plain http": func(s string) string { return strings.Replace(s, "server: https://", "server: http://", 1) },
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "admin.conf")
			if edit != nil {
				if err := os.WriteFile(path, []byte(edit(string(b))), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := NewClient(path); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
