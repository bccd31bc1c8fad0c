package sync

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/runtime"
)

// podDir is a pod's directory below --root-dir: its emptyDir and downward
// API volumes, termination message files and /etc/hosts.
func (l *Loop) podDir(uid string) string {
	return filepath.Join(l.cfg.Node.RootDir, "pods", uid)
}

// prepareMounts makes everything a container mounts exist on disk and
// returns its mounts: volumes, the termination message file and, for pods
// on the pod network (or with hostAliases), a managed /etc/hosts.
func (l *Loop) prepareMounts(sp *manifest.StaticPod, c *corev1.Container, restartCount uint32, podIP string) ([]*runtimeapi.Mount, error) {
	vols := map[string]*corev1.Volume{}
	for i := range sp.Pod.Spec.Volumes {
		vols[sp.Pod.Spec.Volumes[i].Name] = &sp.Pod.Spec.Volumes[i]
	}
	var mounts []*runtimeapi.Mount
	covered := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		v := vols[vm.Name]
		if v == nil {
			return nil, fmt.Errorf("volumeMount %s: no volume of that name", vm.Name)
		}
		host, err := l.prepareVolume(sp, c, v, podIP)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if sub := vm.SubPath; sub != "" || vm.SubPathExpr != "" {
			if vm.SubPathExpr != "" {
				sub = runtime.Expand(vm.SubPathExpr, runtime.EnvVars(sp, c, l.cfg.Node, podIP))
			}
			host = filepath.Join(host, filepath.Clean("/" + sub)[1:])
			if _, err := os.Lstat(host); errors.Is(err, fs.ErrNotExist) {
				if err := os.MkdirAll(host, 0o755); err != nil {
					return nil, fmt.Errorf("volume %s subPath %s: %w", v.Name, sub, err)
				}
			}
		}
		mounts = append(mounts, &runtimeapi.Mount{
			ContainerPath: vm.MountPath,
			HostPath:      host,
			Readonly:      vm.ReadOnly,
			Propagation:   propagation(vm.MountPropagation),
		})
		covered[filepath.Clean(vm.MountPath)] = true
	}
	if p := c.TerminationMessagePath; p != "" && !covered[filepath.Clean(p)] {
		file := filepath.Join(l.podDir(sp.UID), "containers", c.Name, strconv.FormatUint(uint64(restartCount), 10)+".termination-log")
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return nil, fmt.Errorf("termination message file: %w", err)
		}
		if err := os.WriteFile(file, nil, 0o666); err != nil {
			return nil, fmt.Errorf("termination message file: %w", err)
		}
		if err := os.Chmod(file, 0o666); err != nil {
			return nil, fmt.Errorf("termination message file: %w", err)
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: p, HostPath: file})
	}
	pod := sp.Pod
	if !covered["/etc/hosts"] && (!pod.Spec.HostNetwork || len(pod.Spec.HostAliases) > 0) {
		file := filepath.Join(l.podDir(sp.UID), "etc-hosts")
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return nil, fmt.Errorf("/etc/hosts: %w", err)
		}
		if err := os.WriteFile(file, []byte(hostsFile(pod, sp.Namespace, podIP)), 0o644); err != nil {
			return nil, fmt.Errorf("/etc/hosts: %w", err)
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: file})
	}
	return mounts, nil
}

// TerminationMessage reads what a container instance wrote to its
// termination message file, at most 4096 bytes.
func (l *Loop) terminationMessage(uid, container string, restartCount uint32) string {
	file := filepath.Join(l.podDir(uid), "containers", container, strconv.FormatUint(uint64(restartCount), 10)+".termination-log")
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, _ := f.Read(buf)
	return strings.TrimSpace(string(buf[:n]))
}

func propagation(p *corev1.MountPropagationMode) runtimeapi.MountPropagation {
	if p == nil {
		return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
	}
	switch *p {
	case corev1.MountPropagationHostToContainer:
		return runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
	case corev1.MountPropagationBidirectional:
		return runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
	}
	return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
}

// prepareVolume checks or creates one volume and returns its host path.
func (l *Loop) prepareVolume(sp *manifest.StaticPod, c *corev1.Container, v *corev1.Volume, podIP string) (string, error) {
	switch {
	case v.HostPath != nil:
		return v.HostPath.Path, checkHostPath(v.HostPath)
	case v.EmptyDir != nil:
		return l.prepareEmptyDir(sp, v)
	case v.DownwardAPI != nil:
		return l.prepareDownwardAPI(sp, c, v, podIP)
	}
	return "", errors.New("unsupported volume type")
}

// checkHostPath applies a hostPath volume's type: the *OrCreate types create
// what is missing (directories 0755, files 0644), the others must exist as
// that kind of file.
func checkHostPath(h *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	fi, err := os.Stat(h.Path)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return fmt.Errorf("hostPath %s: %w", h.Path, err)
	}
	want := func(ok bool, kind string) error {
		if missing {
			return fmt.Errorf("hostPath %s: does not exist (type %s)", h.Path, t)
		}
		if !ok {
			return fmt.Errorf("hostPath %s: is not a %s (type %s)", h.Path, kind, t)
		}
		return nil
	}
	switch t {
	case corev1.HostPathDirectoryOrCreate:
		if missing {
			if err := os.MkdirAll(h.Path, 0o755); err != nil {
				return fmt.Errorf("hostPath %s: %w", h.Path, err)
			}
			return nil
		}
		return want(fi.IsDir(), "directory")
	case corev1.HostPathFileOrCreate:
		if missing {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return fmt.Errorf("hostPath %s: %w", h.Path, err)
			}
			f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("hostPath %s: %w", h.Path, err)
			}
			if f != nil {
				f.Close()
			}
			return nil
		}
		return want(fi.Mode().IsRegular(), "file")
	case corev1.HostPathDirectory:
		return want(!missing && fi.IsDir(), "directory")
	case corev1.HostPathFile:
		return want(!missing && fi.Mode().IsRegular(), "file")
	case corev1.HostPathSocket:
		return want(!missing && fi.Mode()&fs.ModeSocket != 0, "socket")
	case corev1.HostPathCharDev:
		return want(!missing && fi.Mode()&fs.ModeCharDevice != 0, "character device")
	case corev1.HostPathBlockDev:
		return want(!missing && fi.Mode()&fs.ModeDevice != 0 && fi.Mode()&fs.ModeCharDevice == 0, "block device")
	}
	return nil
}

// prepareEmptyDir makes an emptyDir volume: a directory below the pod's
// directory, or a tmpfs of sizeLimit for medium Memory.
func (l *Loop) prepareEmptyDir(sp *manifest.StaticPod, v *corev1.Volume) (string, error) {
	dir := filepath.Join(l.podDir(sp.UID), "volumes", "empty-dir", v.Name)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", err
	}
	if v.EmptyDir.Medium == corev1.StorageMediumMemory && !isMountPoint(dir) {
		opts := "mode=0777"
		if s := v.EmptyDir.SizeLimit; s != nil && s.Value() > 0 {
			opts += ",size=" + strconv.FormatInt(s.Value(), 10)
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return "", fmt.Errorf("mount tmpfs on %s: %w", dir, err)
		}
	}
	mode := os.FileMode(0o777)
	if g := sp.Pod.Spec.SecurityContext; g != nil && g.FSGroup != nil {
		if err := os.Chown(dir, -1, int(*g.FSGroup)); err != nil {
			return "", err
		}
		mode |= os.ModeSetgid
	}
	return dir, os.Chmod(dir, mode)
}

// prepareDownwardAPI writes a downwardAPI volume's files.
func (l *Loop) prepareDownwardAPI(sp *manifest.StaticPod, c *corev1.Container, v *corev1.Volume, podIP string) (string, error) {
	dir := filepath.Join(l.podDir(sp.UID), "volumes", "downward-api", v.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, item := range v.DownwardAPI.Items {
		var value string
		switch {
		case item.FieldRef != nil:
			value = runtime.FieldValue(sp, item.FieldRef.FieldPath, l.cfg.Node, podIP)
		case item.ResourceFieldRef != nil:
			target := c
			for i := range sp.Pod.Spec.Containers {
				if sp.Pod.Spec.Containers[i].Name == item.ResourceFieldRef.ContainerName {
					target = &sp.Pod.Spec.Containers[i]
				}
			}
			value = runtime.ResourceValue(target, item.ResourceFieldRef, l.cfg.Node)
		}
		mode := os.FileMode(0o644)
		if item.Mode != nil {
			mode = os.FileMode(*item.Mode)
		} else if v.DownwardAPI.DefaultMode != nil {
			mode = os.FileMode(*v.DownwardAPI.DefaultMode)
		}
		file := filepath.Join(dir, filepath.Clean("/" + item.Path)[1:])
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(file, []byte(value), mode); err != nil {
			return "", err
		}
		if err := os.Chmod(file, mode); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// hostsFile is the /etc/hosts bosun mounts into pods, as the kubelet writes it.
func hostsFile(pod *corev1.Pod, namespace, podIP string) string {
	var b strings.Builder
	b.WriteString("# Managed by bosun: changes are lost.\n")
	if pod.Spec.HostNetwork {
		if host, err := os.ReadFile("/etc/hosts"); err == nil {
			b.Write(host)
			if len(host) > 0 && host[len(host)-1] != '\n' {
				b.WriteByte('\n')
			}
		}
	} else {
		b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
		hostname := pod.Spec.Hostname
		if hostname == "" {
			hostname = pod.Name
		}
		if podIP != "" {
			if pod.Spec.Subdomain != "" {
				fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.cluster.local\t%s\n", podIP, hostname, pod.Spec.Subdomain, namespace, hostname)
			} else {
				fmt.Fprintf(&b, "%s\t%s\n", podIP, hostname)
			}
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.String()
}

// isMountPoint reports whether dir is a mount point of this mount namespace.
func isMountPoint(dir string) bool {
	for _, m := range mountPoints() {
		if m == dir {
			return true
		}
	}
	return false
}

// mountPoints lists the mount points of this process's mount namespace.
func mountPoints() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 {
			out = append(out, fields[4])
		}
	}
	return out
}

// removePodDir unmounts what bosun mounted below a pod's directory and
// removes it, once the pod is gone for good.
func (l *Loop) removePodDir(uid string) {
	dir := l.podDir(uid)
	var below []string
	for _, m := range mountPoints() {
		if strings.HasPrefix(m, dir+"/") {
			below = append(below, m)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(below)))
	for _, m := range below {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			l.log.Warn("unmount pod volume", "path", m, "err", err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		l.log.Warn("remove pod directory", "path", dir, "err", err)
	}
}
