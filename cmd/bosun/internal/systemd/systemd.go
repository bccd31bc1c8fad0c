// Package systemd speaks the sd_notify protocol: READY=1 when bosun is up
// and WATCHDOG=1 while its loop is alive, to the datagram socket named by
// NOTIFY_SOCKET. Without NOTIFY_SOCKET it does nothing.
package systemd

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Notifier sends states to the service manager.
type Notifier struct {
	socket string
}

// FromEnv returns a Notifier for NOTIFY_SOCKET, or nil when it is not set.
func FromEnv() *Notifier {
	s := os.Getenv("NOTIFY_SOCKET")
	if s == "" {
		return nil
	}
	return &Notifier{socket: s}
}

// Notify sends one state such as "READY=1". A nil Notifier does nothing.
func (n *Notifier) Notify(state string) error {
	if n == nil {
		return nil
	}
	name := n.socket
	if name[0] == '@' {
		name = "\x00" + name[1:] // abstract namespace
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	return nil
}

// WatchdogInterval returns how often to send WATCHDOG=1 (half of
// WATCHDOG_USEC), or 0 when the watchdog is off or meant for another process.
func WatchdogInterval() time.Duration {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}

// Watchdog sends WATCHDOG=1 every interval while alive() holds, until ctx
// ends. A loop that stops syncing thus gets bosun restarted by systemd.
func (n *Notifier) Watchdog(ctx context.Context, interval time.Duration, alive func() bool) {
	if n == nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if alive() {
				_ = n.Notify("WATCHDOG=1")
			}
		}
	}
}
