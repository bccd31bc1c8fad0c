package frontdoor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Config says where the endpoint lives and which apiservers stand behind it.
type Config struct {
	// VIP is the virtual IPv4 address, e.g. "10.214.0.100".
	VIP string
	// Prefix is the VIP's prefix length on Dev, e.g. 24.
	Prefix int
	// Port is the load balancer's port on the VIP, e.g. 8443.
	Port int
	// Dev is the interface inside each network namespace that carries the
	// VIP, e.g. "eth0".
	Dev string
	// Backends are the apiservers as host:port, dialled from the caller's
	// own network namespace.
	Backends []string
	// CheckInterval is the time between two health checks of a backend;
	// 200ms when zero.
	CheckInterval time.Duration
	// Logf receives changes of health and moves; may be nil.
	Logf func(format string, args ...any)
}

// Door is the VIP and the load balancer behind it. Its methods are safe for
// concurrent use.
type Door struct {
	cfg  Config
	vip  netip.Addr
	logf func(format string, args ...any)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// moveMu serialises MoveTo and Close.
	moveMu sync.Mutex

	mu      sync.Mutex
	closed  bool
	holder  string
	ln      net.Listener
	healthy map[string]bool
	next    int // round-robin position in cfg.Backends
	conns   map[net.Conn]struct{}
}

// New validates cfg and starts the health checks of the backends. The Door
// holds no VIP until the first MoveTo.
func New(cfg Config) (*Door, error) {
	vip, err := netip.ParseAddr(cfg.VIP)
	if err != nil || !vip.Is4() {
		return nil, fmt.Errorf("frontdoor: VIP %q: want an IPv4 address", cfg.VIP)
	}
	var errs []error
	if cfg.Prefix < 1 || cfg.Prefix > 32 {
		errs = append(errs, fmt.Errorf("frontdoor: prefix %d: want 1-32", cfg.Prefix))
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("frontdoor: port %d: want 1-65535", cfg.Port))
	}
	if cfg.Dev == "" {
		errs = append(errs, errors.New("frontdoor: dev: required"))
	}
	if len(cfg.Backends) == 0 {
		errs = append(errs, errors.New("frontdoor: backends: none"))
	}
	seen := map[string]bool{}
	for _, b := range cfg.Backends {
		if _, port, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("frontdoor: backend %q: %w", b, err))
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			errs = append(errs, fmt.Errorf("frontdoor: backend %q: port: %w", b, err))
		}
		if seen[b] {
			errs = append(errs, fmt.Errorf("frontdoor: backend %q: listed twice", b))
		}
		seen[b] = true
	}
	if cfg.CheckInterval < 0 {
		errs = append(errs, fmt.Errorf("frontdoor: check interval %s: negative", cfg.CheckInterval))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = 200 * time.Millisecond
	}
	cfg.Backends = append([]string(nil), cfg.Backends...)
	d := &Door{
		cfg:     cfg,
		vip:     vip,
		logf:    cfg.Logf,
		healthy: map[string]bool{},
		conns:   map[net.Conn]struct{}{},
	}
	if d.logf == nil {
		d.logf = func(string, ...any) {}
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for _, b := range cfg.Backends {
		d.wg.Add(1)
		go d.check(b)
	}
	return d, nil
}

// Holder returns the path of the network namespace that holds the VIP, or
// "" when none does.
func (d *Door) Holder() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.holder
}

// Healthy returns the backends whose last health check passed, in the order
// of Config.Backends.
func (d *Door) Healthy() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.healthyLocked()
}

func (d *Door) healthyLocked() []string {
	var out []string
	for _, b := range d.cfg.Backends {
		if d.healthy[b] {
			out = append(out, b)
		}
	}
	return out
}

// MoveTo makes the network namespace at netnsPath (e.g. /run/netns/NAME) the
// holder of the VIP, as keepalived does on a new master: it adds the VIP to
// Dev there, listens on VIP:Port there, announces the VIP with gratuitous
// ARP from Dev, then closes the old holder's listener and removes the VIP
// from the old holder. Connections already spliced through the old holder
// are left alone. A move to the current holder is a no-op. When the VIP
// cannot be removed from the old holder, MoveTo returns an error but the new
// holder is already in place.
func (d *Door) MoveTo(netnsPath string) error {
	d.moveMu.Lock()
	defer d.moveMu.Unlock()
	d.mu.Lock()
	closed, old, oldLn := d.closed, d.holder, d.ln
	d.mu.Unlock()
	if closed {
		return fmt.Errorf("frontdoor: move to %s: door closed", netnsPath)
	}
	if netnsPath == old {
		return nil
	}

	ln, err := d.takeVIP(netnsPath)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.holder, d.ln = netnsPath, ln
	d.mu.Unlock()
	d.wg.Add(1)
	go d.serve(ln)
	d.logf("frontdoor: VIP %s:%d now held by %s", d.vip, d.cfg.Port, netnsPath)

	if old == "" {
		return nil
	}
	_ = oldLn.Close()
	if err := d.releaseVIP(old); err != nil {
		return fmt.Errorf("frontdoor: move from %s: %w", old, err)
	}
	return nil
}

// takeVIP adds the VIP in the namespace at path, listens on it there and
// announces it. On failure it leaves nothing behind.
func (d *Door) takeVIP(path string) (ln net.Listener, retErr error) {
	var link link
	err := inNetns(path, func() error {
		var err error
		if link, err = lookupLink(d.cfg.Dev); err != nil {
			return err
		}
		if err := addrAdd(link.index, d.vip, d.cfg.Prefix); err != nil {
			return fmt.Errorf("add %s/%d to %s: %w", d.vip, d.cfg.Prefix, d.cfg.Dev, err)
		}
		addr := net.JoinHostPort(d.vip.String(), strconv.Itoa(d.cfg.Port))
		if ln, err = net.Listen("tcp4", addr); err != nil {
			_ = addrDel(link.index, d.vip, d.cfg.Prefix)
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("frontdoor: move to %s: %w", path, err)
	}
	defer func() {
		if retErr != nil {
			_ = ln.Close()
			_ = d.releaseVIP(path)
		}
	}()
	if err := announce(path, link, d.vip); err != nil {
		return nil, fmt.Errorf("frontdoor: move to %s: gratuitous ARP on %s: %w", path, d.cfg.Dev, err)
	}
	return ln, nil
}

// releaseVIP removes the VIP from Dev in the namespace at path. A namespace,
// interface or address that is gone already counts as removed.
func (d *Door) releaseVIP(path string) error {
	err := inNetns(path, func() error {
		l, err := lookupLink(d.cfg.Dev)
		if err != nil {
			return errLinkGone
		}
		return addrDel(l.index, d.vip, d.cfg.Prefix)
	})
	if err == nil || errors.Is(err, errLinkGone) || errors.Is(err, errAddrGone) || errors.Is(err, errNetnsGone) {
		return nil
	}
	return fmt.Errorf("remove %s/%d from %s in %s: %w", d.vip, d.cfg.Prefix, d.cfg.Dev, path, err)
}

// Close stops the health checks, closes the listener and every spliced
// connection, and removes the VIP from the holder. It is idempotent.
func (d *Door) Close() error {
	d.moveMu.Lock()
	defer d.moveMu.Unlock()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	holder, ln := d.holder, d.ln
	d.holder, d.ln = "", nil
	for c := range d.conns {
		_ = c.Close()
	}
	d.mu.Unlock()
	d.cancel()
	var err error
	if ln != nil {
		_ = ln.Close()
		if rerr := d.releaseVIP(holder); rerr != nil {
			err = fmt.Errorf("frontdoor: close: %w", rerr)
		}
	}
	d.wg.Wait()
	return err
}
