package frontdoor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var (
	errNetnsGone = errors.New("network namespace gone")
	errLinkGone  = errors.New("interface gone")
	errAddrGone  = errors.New("address not there")
)

// inNetns runs fn on an OS thread that joined the network namespace at path.
// Sockets fn opens stay in that namespace. The thread returns to its own
// namespace before it runs anything else; if it cannot, inNetns panics, as
// nothing may run on a thread in the wrong namespace.
func inNetns(path string, fn func() error) error {
	runtime.LockOSThread()
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("own network namespace: %w", err)
	}
	defer own.Close()
	ns, err := os.Open(path)
	if err != nil {
		runtime.UnlockOSThread()
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w", path, errNetnsGone)
		}
		return fmt.Errorf("network namespace: %w", err)
	}
	defer ns.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", path, err)
	}
	defer func() {
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
			panic(fmt.Sprintf("frontdoor: setns back from %s: %v", path, err))
		}
		runtime.UnlockOSThread()
	}()
	return fn()
}

// link is what the gratuitous ARP needs of an interface.
type link struct {
	index int
	mac   net.HardwareAddr
}

// lookupLink finds dev in the current thread's network namespace.
func lookupLink(dev string) (link, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return link{}, fmt.Errorf("interface %s: %w", dev, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return link{}, fmt.Errorf("interface %s: no Ethernet address", dev)
	}
	return link{index: ifi.Index, mac: ifi.HardwareAddr}, nil
}

// addrAdd adds ip/prefix to the interface, as "ip addr add" does, in the
// current thread's network namespace. An address already there is fine.
func addrAdd(index int, ip netip.Addr, prefix int) error {
	err := addrRequest(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, index, ip, prefix)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// addrDel removes ip/prefix from the interface in the current thread's
// network namespace; errAddrGone when it is not there.
func addrDel(index int, ip netip.Addr, prefix int) error {
	err := addrRequest(unix.RTM_DELADDR, 0, index, ip, prefix)
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV) {
		return errAddrGone
	}
	return err
}

// addrRequest sends one rtnetlink address request and reads its ack.
func addrRequest(typ uint16, flags uint16, index int, ip netip.Addr, prefix int) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink bind: %w", err)
	}
	a := ip.As4()
	attr := func(typ uint16, data []byte) []byte {
		b := make([]byte, unix.SizeofRtAttr, unix.SizeofRtAttr+len(data))
		binary.NativeEndian.PutUint16(b[0:], uint16(unix.SizeofRtAttr+len(data)))
		binary.NativeEndian.PutUint16(b[2:], typ)
		return append(b, data...) // 4-byte data: no padding needed
	}
	msg := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfAddrmsg)
	const seq = 1
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags)
	binary.NativeEndian.PutUint32(msg[8:], seq)
	ifa := msg[unix.SizeofNlMsghdr:]
	ifa[0] = unix.AF_INET
	ifa[1] = byte(prefix)
	binary.NativeEndian.PutUint32(ifa[4:], uint32(index))
	msg = append(msg, attr(unix.IFA_LOCAL, a[:])...)
	msg = append(msg, attr(unix.IFA_ADDRESS, a[:])...)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("netlink answer: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq || m.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return errors.New("netlink answer: short error message")
			}
			if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
				return unix.Errno(-errno)
			}
			return nil
		}
	}
}

// Gratuitous ARP: three announcements ~100ms apart, as keepalived sends on
// becoming master.
const (
	garpCount = 3
	garpGap   = 100 * time.Millisecond
)

// announce broadcasts gratuitous ARP requests for ip from the interface in
// the namespace at path, so that neighbours point ip at its MAC now rather
// than when their cache entry expires.
func announce(path string, l link, ip netip.Addr) error {
	var fd int
	err := inNetns(path, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	defer unix.Close(fd)
	frame := garpFrame(l.mac, ip)
	to := &unix.SockaddrLinklayer{
		Protocol: htons(unix.ETH_P_ARP),
		Ifindex:  l.index,
		Halen:    6,
		Addr:     [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	}
	for i := range garpCount {
		if i > 0 {
			time.Sleep(garpGap)
		}
		if err := unix.Sendto(fd, frame, 0, to); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	return nil
}

// garpFrame is a broadcast Ethernet frame holding an ARP request whose
// sender and target address are both ip: a gratuitous ARP.
func garpFrame(mac net.HardwareAddr, ip netip.Addr) []byte {
	a := ip.As4()
	f := make([]byte, 60) // the Ethernet minimum, zero-padded
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], unix.ETH_P_ARP)
	arp := f[14:]
	binary.BigEndian.PutUint16(arp[0:], 1)             // hardware: Ethernet
	binary.BigEndian.PutUint16(arp[2:], unix.ETH_P_IP) // protocol: IPv4
	arp[4], arp[5] = 6, 4                              // address lengths
	binary.BigEndian.PutUint16(arp[6:], 1)             // op: request
	copy(arp[8:14], mac)                               // sender MAC
	copy(arp[14:18], a[:])                             // sender IP
	copy(arp[24:28], a[:])                             // target IP
	return f
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
