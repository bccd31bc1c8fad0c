// Package criproxy is a recording, fault-injecting CRI proxy for bosun's
// end-to-end tests. It serves a unix socket that bosun uses as its
// --container-runtime-endpoint and forwards every call, unary or streaming,
// to the real runtime as raw bytes, so it needs no knowledge of the CRI
// messages. It counts the calls per method, and on command fails calls,
// delays their replies, answers Unavailable for a while, drops every
// connection, or runs a hook after a call was forwarded and before its reply
// reaches bosun. It is test code: nothing in bosun knows about it.
package criproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Mutating lists the CRI methods that change the runtime's state.
var Mutating = []string{
	"RunPodSandbox", "StopPodSandbox", "RemovePodSandbox",
	"CreateContainer", "StartContainer", "StopContainer", "RemoveContainer",
	"UpdateContainerResources", "UpdatePodSandboxResources", "PullImage", "RemoveImage",
}

// rawCodec passes messages through as bytes: the proxy never decodes them.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("criproxy: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("criproxy: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// fault is one command for the next calls of a method.
type fault struct {
	method string
	left   int // calls it still applies to
	// code, when not OK, is the answer. Unless forward is set the call never
	// reaches the runtime; with forward it does, and the runtime's own
	// answer is replaced.
	code    codes.Code
	forward bool
	delay   time.Duration // the runtime's reply is held this long
	hook    func()        // runs after the runtime replied, before bosun hears of it
}

// Proxy is a running proxy. Its methods are safe for concurrent use.
type Proxy struct {
	path    string
	backend *grpc.ClientConn
	srv     *grpc.Server
	lis     *trackingListener

	mu        sync.Mutex
	counts    map[string]int
	calls     []string
	faults    []*fault
	downUntil time.Time
	wg        sync.WaitGroup // detached forwards still running
	closed    chan struct{}  // ends held replies when the proxy closes
}

// Start serves the proxy on socket (a path, removed first) and forwards to
// the runtime at backend (a socket path).
func Start(socket, backend string) (*Proxy, error) {
	conn, err := grpc.NewClient("unix://"+backend,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("criproxy: backend %s: %w", backend, err)
	}
	_ = os.Remove(socket)
	l, err := net.Listen("unix", socket)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("criproxy: listen %s: %w", socket, err)
	}
	p := &Proxy{path: socket, backend: conn, counts: map[string]int{}, closed: make(chan struct{}), lis: &trackingListener{Listener: l, conns: map[net.Conn]bool{}}}
	p.srv = grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(p.handle), grpc.MaxRecvMsgSize(64<<20))
	go func() { _ = p.srv.Serve(p.lis) }()
	return p, nil
}

// Endpoint is the proxy's address for --container-runtime-endpoint.
func (p *Proxy) Endpoint() string { return "unix://" + p.path }

// Close stops serving, waits for calls it forwards on its own, and closes
// the connection to the runtime.
func (p *Proxy) Close() {
	close(p.closed)
	p.srv.Stop()
	p.wg.Wait()
	p.backend.Close()
}

// Count is the number of calls of method (a short name such as
// "RunPodSandbox") the proxy received, failed ones included.
func (p *Proxy) Count(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[method]
}

// Mark is a position in the sequence of calls, for Since.
func (p *Proxy) Mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// Since counts the calls received after mark, per method; with mutating
// set, only those of Mutating.
func (p *Proxy) Since(mark int, mutating bool) map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for _, m := range p.calls[mark:] {
		if !mutating || isMutating(m) {
			out[m]++
		}
	}
	return out
}

func isMutating(method string) bool {
	for _, m := range Mutating {
		if m == method {
			return true
		}
	}
	return false
}

// Fail answers the next n calls of method with code; they never reach the
// runtime.
func (p *Proxy) Fail(method string, n int, code codes.Code) {
	p.add(&fault{method: method, left: n, code: code})
}

// FailAfterForward forwards the next n calls of method, waits for the
// runtime's answer, and answers code instead: with DeadlineExceeded, bosun
// sees what it sees when its own deadline passes while the runtime still
// completes the call.
func (p *Proxy) FailAfterForward(method string, n int, code codes.Code) {
	p.add(&fault{method: method, left: n, code: code, forward: true})
}

// Delay forwards the next n calls of method at once and holds the runtime's
// reply for d. A caller whose deadline passes first gets DeadlineExceeded;
// the call still completes in the runtime.
func (p *Proxy) Delay(method string, n int, d time.Duration) {
	p.add(&fault{method: method, left: n, delay: d})
}

// OnReply runs hook once, for the next call of method, after the runtime
// answered and before the answer is passed on. A hook that kills bosun makes
// the call happen without bosun ever learning its result.
func (p *Proxy) OnReply(method string, hook func()) {
	p.add(&fault{method: method, left: 1, hook: hook})
}

// Unavailable answers every new call with Unavailable for d, as a runtime
// that is down does.
func (p *Proxy) Unavailable(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.downUntil = time.Now().Add(d)
}

// Clear drops the faults not yet used up and ends an Unavailable period.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults, p.downUntil = nil, time.Time{}
}

// DropConnections closes every client connection, streams included; clients
// reconnect to the same socket.
func (p *Proxy) DropConnections() { p.lis.closeAll() }

func (p *Proxy) add(f *fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, f)
}

// take records a call of method and returns whether the runtime is to be
// reported down, or else the fault that applies to the call, if any.
func (p *Proxy) take(method string) (*fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[method]++
	p.calls = append(p.calls, method)
	down := time.Now().Before(p.downUntil)
	if down {
		return nil, true
	}
	for i, f := range p.faults {
		if f.method != method {
			continue
		}
		f.left--
		if f.left <= 0 {
			p.faults = append(p.faults[:i:i], p.faults[i+1:]...)
		}
		return f, down
	}
	return nil, false
}

// handle forwards one call of any method. Unary calls (one request, one
// reply) get the faults; streams are passed through as they are.
func (p *Proxy) handle(_ any, ss grpc.ServerStream) error {
	full, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return status.Error(codes.Internal, "criproxy: no method")
	}
	method := full[strings.LastIndex(full, "/")+1:]
	f, down := p.take(method)
	if down {
		return status.Error(codes.Unavailable, "criproxy: runtime unavailable")
	}
	if f != nil && f.code != codes.OK && !f.forward {
		return status.Errorf(f.code, "criproxy: injected %s for %s", f.code, method)
	}
	ctx := ss.Context()
	if f != nil {
		// A faulted call reaches the runtime even when bosun gives up on it.
		ctx = context.WithoutCancel(ctx)
	}
	if method == "GetContainerEvents" || f == nil {
		return p.stream(ctx, full, ss)
	}
	var req []byte
	if err := ss.RecvMsg(&req); err != nil {
		return err
	}
	type result struct {
		reply []byte
		err   error
	}
	done := make(chan result, 1)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var reply []byte
		err := p.backend.Invoke(ctx, full, &req, &reply)
		select {
		case <-time.After(f.delay):
		case <-p.closed:
		}
		if f.hook != nil {
			f.hook()
		}
		done <- result{reply, err}
	}()
	select {
	case <-ss.Context().Done():
		return status.FromContextError(ss.Context().Err()).Err()
	case r := <-done:
		if f.code != codes.OK {
			return status.Errorf(f.code, "criproxy: injected %s for %s after forwarding it", f.code, method)
		}
		if r.err != nil {
			return r.err
		}
		return ss.SendMsg(&r.reply)
	}
}

// stream copies messages both ways until the runtime ends the call.
func (p *Proxy) stream(ctx context.Context, method string, ss grpc.ServerStream) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := p.backend.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		return err
	}
	go func() {
		for {
			var m []byte
			if err := ss.RecvMsg(&m); err != nil {
				_ = cs.CloseSend()
				return
			}
			if err := cs.SendMsg(&m); err != nil {
				return
			}
		}
	}()
	if h, err := cs.Header(); err == nil {
		_ = ss.SendHeader(h)
	}
	for {
		var m []byte
		if err := cs.RecvMsg(&m); err != nil {
			ss.SetTrailer(cs.Trailer())
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := ss.SendMsg(&m); err != nil {
			return err
		}
	}
}

// trackingListener remembers accepted connections so they can be dropped.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.conns[c] = true
	l.mu.Unlock()
	return c, nil
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Close()
		delete(l.conns, c)
	}
}
