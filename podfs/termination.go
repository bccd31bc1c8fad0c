package podfs

import (
	"errors"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// maxTerminationMessage is how much of a termination message file is kept:
// its last 4096 bytes, as the kubelet keeps.
const maxTerminationMessage = 4096

const terminationSuffix = ".termination-log"

// createTerminationFile makes an empty, world-writable termination message
// file for a container instance and returns its host path. It never opens
// an existing link or FIFO in its place.
func createTerminationFile(pod *podRoot, container string, restartCount uint32) (string, error) {
	dir, name, err := containerFile(container, restartCount, terminationSuffix)
	if err != nil {
		return "", err
	}
	if err := pod.root.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	fh, err := pod.openNoFollow(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o666)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	// The container may run as any user: the mode must not depend on umask.
	if err := fh.Chmod(0o666); err != nil {
		return "", err
	}
	return fh.Name(), nil
}

// TerminationMessage reads the last 4096 bytes a container instance wrote
// to its termination message file, without spaces around. The file is the
// container's: a link or anything but a regular file in its place reads as
// no message, and nothing blocks.
func (f *FS) TerminationMessage(uid, container string, restartCount uint32) string {
	dir, name, err := containerFile(container, restartCount, terminationSuffix)
	if err != nil {
		return ""
	}
	podDir, err := f.PodDir(uid)
	if err != nil {
		return ""
	}
	root, err := os.OpenRoot(podDir)
	if err != nil {
		return ""
	}
	pod := &podRoot{dir: podDir, root: root}
	defer pod.Close()
	fh, err := pod.openNoFollow(dir, name, unix.O_RDONLY, 0)
	if err != nil {
		return ""
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	buf := make([]byte, min(fi.Size(), maxTerminationMessage))
	n, err := fh.ReadAt(buf, fi.Size()-int64(len(buf)))
	if err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return strings.TrimSpace(string(buf[:n]))
}
