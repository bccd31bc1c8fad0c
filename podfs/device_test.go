package podfs

import (
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// opened reports whether path was opened (not merely reached by O_PATH)
// while do ran: inotify's IN_OPEN, which opening a device node also gives.
func opened(t *testing.T, path string, do func()) bool {
	t.Helper()
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	if _, err := unix.InotifyAddWatch(in, path, unix.IN_OPEN|unix.IN_DONT_FOLLOW); err != nil {
		t.Fatal(err)
	}
	do()
	buf := make([]byte, 4096)
	n, err := unix.Read(in, buf)
	for off := 0; err == nil && off+unix.SizeofInotifyEvent <= n; {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		if ev.Mask&unix.IN_OPEN != 0 {
			return true // not IN_IGNORED, which the removal gives
		}
		off += unix.SizeofInotifyEvent + int(ev.Len)
	}
	return false
}

// A pod that may write the pod logs directory can plant a device node as a
// log (mknod needs only CAP_MKNOD in its own namespace): bosun, as root on
// the host, must never open it, since opening a device runs its driver (a
// watchdog reboots the machine when it is closed again).
func TestADeviceOrFIFOPlantedAsALogIsNeverOpened(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	logs := t.TempDir()
	cdir := filepath.Join(logs, "default_p_u", "c")
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mode uint32
		dev  int
	}{
		{"a character device", unix.S_IFCHR | 0o600, int(unix.Mkdev(1, 3))}, // /dev/null's
		{"a FIFO", unix.S_IFIFO | 0o600, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := filepath.Join(cdir, "0.log")
			rotated := log + ".20260101-000000"
			for _, p := range []string{log, rotated} {
				os.Remove(p)
				if err := unix.Mknod(p, tc.mode, tc.dev); err != nil {
					t.Fatal(err)
				}
			}
			if opened(t, log, func() {
				if got := LogTail(log); got != "" {
					t.Errorf("LogTail = %q", got)
				}
			}) {
				t.Errorf("LogTail opened %s planted as the log", tc.name)
			}
			if opened(t, rotated, func() {
				_ = RotateLog(log, 5, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), func() error { return nil })
			}) {
				t.Errorf("rotation opened %s planted as a rotated log", tc.name)
			}
			if _, err := os.Lstat(rotated); err == nil {
				t.Errorf("%s planted as a rotated log is still there", tc.name)
			}
		})
	}
}
