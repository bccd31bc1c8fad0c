package frontdoor

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The test's own subnet; the HA e2e test uses 10.214.0.0/24.
const (
	subnet = "10.215.0.0/24"
	vip    = "10.215.0.100"
	vip2   = "10.215.0.101"
)

// fixture is a bridge in the host namespace (10.215.0.1) and two network
// namespaces, each with eth0 on the bridge (10.215.0.11 and .12).
type fixture struct {
	bridge string
	ns     [2]string // paths
	mac    [2]string
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func mustIP(t *testing.T, args ...string) {
	t.Helper()
	if err := ip(args...); err != nil {
		t.Fatal(err)
	}
}

func newFixture(t *testing.T) *fixture {
	if os.Geteuid() != 0 {
		t.Skip("frontdoor tests need root: they make network namespaces, a bridge and raw sockets")
	}
	out, err := exec.Command("ip", "-4", "route", "show", subnet).CombinedOutput()
	if err != nil {
		t.Fatalf("ip route show %s: %v: %s", subnet, err, out)
	}
	if len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("%s is routed on this host already (a leftover of an earlier run?): %s", subnet, out)
	}
	var r [3]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	sfx := hex.EncodeToString(r[:])
	f := &fixture{bridge: "fdbr" + sfx}
	t.Cleanup(func() {
		if err := ip("link", "del", f.bridge); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			t.Errorf("cleanup: %v", err)
		}
	})
	mustIP(t, "link", "add", f.bridge, "type", "bridge")
	mustIP(t, "addr", "add", "10.215.0.1/24", "dev", f.bridge)
	mustIP(t, "link", "set", f.bridge, "up")
	for i, side := range []string{"a", "b"} {
		name := "fd-" + side + "-" + sfx
		veth := "fdv" + side + sfx
		t.Cleanup(func() {
			if err := ip("netns", "del", name); err != nil && !strings.Contains(err.Error(), "No such file") {
				t.Errorf("cleanup: %v", err)
			}
		})
		mustIP(t, "netns", "add", name)
		mustIP(t, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
		mustIP(t, "link", "set", veth, "master", f.bridge, "up")
		mustIP(t, "-n", name, "addr", "add", fmt.Sprintf("10.215.0.%d/24", 11+i), "dev", "eth0")
		mustIP(t, "-n", name, "link", "set", "eth0", "up")
		mustIP(t, "-n", name, "link", "set", "lo", "up")
		f.ns[i] = "/run/netns/" + name
		err := inNetns(f.ns[i], func() error {
			l, err := lookupLink("eth0")
			f.mac[i] = l.mac.String()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// backend plays an apiserver: /readyz answers 200 while ready, /who names
// the backend and counts the requests that reached it.
type backend struct {
	name  string
	addr  string
	ready atomic.Bool
	who   atomic.Int64
	srv   *httptest.Server
}

func newBackend(t *testing.T, nsPath, addr, name string) *backend {
	t.Helper()
	b := &backend{name: name, addr: addr}
	var ln net.Listener
	err := inNetns(nsPath, func() error {
		var err error
		ln, err = net.Listen("tcp4", addr)
		return err
	})
	if err != nil {
		t.Fatalf("backend %s: %v", name, err)
	}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			if !b.ready.Load() {
				http.Error(w, "not ready", http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, "ok")
		case "/who":
			b.who.Add(1)
			_, _ = io.WriteString(w, b.name)
		default:
			http.NotFound(w, r)
		}
	}))
	_ = b.srv.Listener.Close()
	b.srv.Listener = ln
	b.srv.StartTLS()
	t.Cleanup(b.srv.Close)
	return b
}

// who asks the backend behind addr for its name, from the host namespace,
// on a fresh connection.
func who(addr string) (string, error) {
	c := &http.Client{
		Timeout: time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
		},
	}
	resp, err := c.Get("https://" + addr + "/who")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /who: %s", resp.Status)
	}
	return string(b), nil
}

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
		time.Sleep(20 * time.Millisecond)
	}
}

func healthyIs(d *Door, want ...string) func() error {
	return func() error {
		if got := d.Healthy(); !slices.Equal(got, want) {
			return fmt.Errorf("healthy %v, want %v", got, want)
		}
		return nil
	}
}

// whoTimes asks n times and counts the answers by backend name.
func whoTimes(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		name, err := who(addr)
		if err != nil {
			t.Fatalf("GET https://%s/who: %v", addr, err)
		}
		got[name]++
	}
	return got
}

// hostNeighMAC returns the host's neighbour entry for addr on dev.
func hostNeighMAC(dev, addr string) (string, error) {
	out, err := exec.Command("ip", "-j", "neigh", "show", addr, "dev", dev).Output()
	if err != nil {
		return "", fmt.Errorf("ip neigh show %s: %w", addr, err)
	}
	var entries []struct {
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		return "", fmt.Errorf("ip neigh show %s: %w: %s", addr, err, out)
	}
	if len(entries) == 0 {
		return "", fmt.Errorf("no neighbour entry for %s on %s", addr, dev)
	}
	return entries[0].LLAddr, nil
}

// hasAddr reports whether eth0 in the namespace at path has addr.
func hasAddr(t *testing.T, path, addr string) bool {
	t.Helper()
	found := false
	err := inNetns(path, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := ifi.Addrs()
		for _, a := range addrs {
			if strings.HasPrefix(a.String(), addr+"/") {
				found = true
			}
		}
		return err
	})
	if err != nil {
		t.Fatalf("addresses in %s: %v", path, err)
	}
	return found
}

func TestDoor(t *testing.T) {
	f := newFixture(t)
	a := newBackend(t, f.ns[0], "10.215.0.11:6443", "a")
	b := newBackend(t, f.ns[1], "10.215.0.12:6443", "b")
	d, err := New(Config{VIP: vip, Prefix: 24, Port: 8443, Dev: "eth0",
		Backends: []string{a.addr, b.addr}, CheckInterval: 50 * time.Millisecond, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	front := vip + ":8443"
	if err := d.MoveTo(f.ns[0]); err != nil {
		t.Fatal(err)
	}
	if d.Holder() != f.ns[0] || !hasAddr(t, f.ns[0], vip) {
		t.Fatalf("holder %q, VIP on %s: %v; want the VIP there", d.Holder(), f.ns[0], hasAddr(t, f.ns[0], vip))
	}

	t.Run("no healthy backend closes the client's connection", func(t *testing.T) {
		if got := d.Healthy(); len(got) != 0 {
			t.Fatalf("healthy %v before any backend is ready", got)
		}
		c, err := net.DialTimeout("tcp", front, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("read from %s: %v, want EOF", front, err)
		}
	})

	t.Run("only the healthy backend gets connections", func(t *testing.T) {
		a.ready.Store(true)
		eventually(t, 2*time.Second, "a healthy", healthyIs(d, a.addr))
		if got := whoTimes(t, front, 4); got["a"] != 4 {
			t.Fatalf("answers %v, want 4 from a", got)
		}
		b.ready.Store(true)
		eventually(t, 2*time.Second, "both healthy", healthyIs(d, a.addr, b.addr))
		if got := whoTimes(t, front, 6); got["a"] != 3 || got["b"] != 3 {
			t.Fatalf("answers %v, want round robin: 3 from a, 3 from b", got)
		}
		a.ready.Store(false)
		eventually(t, 2*time.Second, "a unhealthy", healthyIs(d, b.addr))
		before := a.who.Load()
		if got := whoTimes(t, front, 4); got["b"] != 4 {
			t.Fatalf("answers %v, want 4 from b", got)
		}
		if n := a.who.Load() - before; n != 0 {
			t.Fatalf("unhealthy backend a got %d requests", n)
		}
		a.ready.Store(true)
		eventually(t, 2*time.Second, "a healthy again", healthyIs(d, a.addr, b.addr))
	})

	t.Run("gratuitous ARP moves the VIP without a neighbour flush", func(t *testing.T) {
		if err := d.MoveTo(f.ns[0]); err != nil {
			t.Fatalf("move to the holder: %v", err)
		}
		if _, err := who(front); err != nil {
			t.Fatal(err)
		}
		if mac, err := hostNeighMAC(f.bridge, vip); err != nil || mac != f.mac[0] {
			t.Fatalf("host's neighbour entry for %s: %q, %v; want %s (a)", vip, mac, err, f.mac[0])
		}
		start := time.Now()
		if err := d.MoveTo(f.ns[1]); err != nil {
			t.Fatal(err)
		}
		if d.Holder() != f.ns[1] {
			t.Fatalf("holder %q, want %q", d.Holder(), f.ns[1])
		}
		if hasAddr(t, f.ns[0], vip) || !hasAddr(t, f.ns[1], vip) {
			t.Fatalf("VIP on a: %v, on b: %v; want on b only", hasAddr(t, f.ns[0], vip), hasAddr(t, f.ns[1], vip))
		}
		eventually(t, time.Second, "a request through the new holder", func() error {
			_, err := who(front)
			return err
		})
		t.Logf("VIP answered through the new holder %s after the move began", time.Since(start).Round(time.Millisecond))
		mac, err := hostNeighMAC(f.bridge, vip)
		if err != nil || mac != f.mac[1] {
			t.Fatalf("host's neighbour entry for %s: %q, %v; want %s (b)", vip, mac, err, f.mac[1])
		}
	})

	t.Run("close removes the VIP", func(t *testing.T) {
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if d.Holder() != "" || hasAddr(t, f.ns[1], vip) {
			t.Fatalf("after close: holder %q, VIP on b: %v", d.Holder(), hasAddr(t, f.ns[1], vip))
		}
		if err := d.MoveTo(f.ns[0]); err == nil {
			t.Fatal("move after close: no error")
		}
	})

	t.Run("a refused dial is redispatched", func(t *testing.T) {
		c := newBackend(t, f.ns[0], "10.215.0.11:6444", "c")
		c.ready.Store(true)
		// The checks run once at start, then not again during the test:
		// the door still counts c healthy after its listener is gone.
		d2, err := New(Config{VIP: vip2, Prefix: 24, Port: 8443, Dev: "eth0",
			Backends: []string{c.addr, b.addr}, CheckInterval: time.Minute, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := d2.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		}()
		if err := d2.MoveTo(f.ns[0]); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Second, "both healthy", healthyIs(d2, c.addr, b.addr))
		c.srv.Close()
		if got := whoTimes(t, vip2+":8443", 4); got["b"] != 4 {
			t.Fatalf("answers %v, want 4 from b", got)
		}
		if got := d2.Healthy(); !slices.Contains(got, c.addr) {
			t.Fatalf("healthy %v: c was marked down, so no redispatch was tested", got)
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := Config{VIP: vip, Prefix: 24, Port: 8443, Dev: "eth0", Backends: []string{"10.215.0.11:6443"}}
	for name, mod := range map[string]func(*Config){
		"IPv6 VIP":          func(c *Config) { c.VIP = "fd00::1" },
		"prefix 33":         func(c *Config) { c.Prefix = 33 },
		"port 0":            func(c *Config) { c.Port = 0 },
		"no dev":            func(c *Config) { c.Dev = "" },
		"no backends":       func(c *Config) { c.Backends = nil },
		"backend sans port": func(c *Config) { c.Backends = []string{"10.215.0.11"} },
		"backend twice":     func(c *Config) { c.Backends = []string{"10.215.0.11:6443", "10.215.0.11:6443"} },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good
			mod(&cfg)
			if d, err := New(cfg); err == nil {
				_ = d.Close()
				t.Fatalf("New(%+v): no error", cfg)
			}
		})
	}
}
