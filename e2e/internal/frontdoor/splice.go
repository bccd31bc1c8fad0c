package frontdoor

import (
	"errors"
	"io"
	"net"
	"time"
)

// dialTimeout bounds the dial of a backend, as haproxy's "timeout connect".
const dialTimeout = time.Second

// serve accepts on ln until it is closed and splices each connection to a
// backend.
func (d *Door) serve(ln net.Listener) {
	defer d.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		if !d.track(c) {
			_ = c.Close()
			return
		}
		d.wg.Add(1)
		go d.splice(c)
	}
}

// track records c so that Close can end it; it returns false once the Door
// is closed.
func (d *Door) track(c net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.conns[c] = struct{}{}
	return true
}

func (d *Door) untrack(c net.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.conns, c)
}

// pick returns the healthy backends in the order to try them: round robin,
// then the others for a redispatch when a dial fails.
func (d *Door) pick() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, start := len(d.cfg.Backends), d.next
	var order []string
	for i := range n {
		b := d.cfg.Backends[(start+i)%n]
		if d.healthy[b] {
			if len(order) == 0 {
				d.next = (start + i + 1) % n
			}
			order = append(order, b)
		}
	}
	return order
}

// splice connects client to a healthy backend and copies both ways until
// both directions are done. With no backend to reach, it closes client at
// once.
func (d *Door) splice(client net.Conn) {
	defer d.wg.Done()
	defer d.untrack(client)
	defer client.Close()
	var backend net.Conn
	for _, b := range d.pick() {
		c, err := net.DialTimeout("tcp", b, dialTimeout)
		if err == nil {
			backend = c
			break
		}
		d.logf("frontdoor: dial %s: %v; trying the next backend", b, err)
	}
	if backend == nil {
		return
	}
	if !d.track(backend) {
		_ = backend.Close()
		return
	}
	defer d.untrack(backend)
	defer backend.Close()
	done := make(chan struct{})
	go func() {
		pipe(backend, client)
		close(done)
	}()
	pipe(client, backend)
	<-done
}

// pipe copies src to dst, then half-closes dst. When the copy fails, it
// closes both, which ends the other direction too.
func pipe(dst, src net.Conn) {
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		_ = src.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
