package server

import (
	"context"
	"net"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/peer"
)

// credAddr is a client's address with the uid the kernel gives for the
// other end of its unix socket (SO_PEERCRED), so handlers can tell root
// from a member of --api-socket-group.
type credAddr struct {
	net.Addr
	uid uint32
}

type credConn struct {
	net.Conn
	addr credAddr
}

func (c credConn) RemoteAddr() net.Addr { return c.addr }

// credListener tags every accepted unix connection with its peer's uid; a
// connection whose credentials cannot be read is closed, never served
// anonymously.
type credListener struct{ net.Listener }

func (l credListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, ok := peerUID(c)
		if !ok {
			c.Close()
			continue
		}
		return credConn{Conn: c, addr: credAddr{Addr: c.RemoteAddr(), uid: uid}}, nil
	}
}

// peerUID reads SO_PEERCRED of a unix connection.
func peerUID(c net.Conn) (uint32, bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil || cerr != nil {
		return 0, false
	}
	return cred.Uid, true
}

// callerUID is the uid of the client of a request, when it came through a
// credListener.
func callerUID(ctx context.Context) (uint32, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return 0, false
	}
	a, ok := p.Addr.(credAddr)
	return a.uid, ok
}
