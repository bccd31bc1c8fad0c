package podfs

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// hostsName is the pod's /etc/hosts below its directory.
const hostsName = "etc-hosts"

// maxHostHosts is how much of the host's /etc/hosts a hostNetwork pod's
// file takes: the host's file is root's, but a bound keeps a mistake there
// (or a huge file) from growing bosun; 1 MiB is hundreds of times any real one.
const maxHostHosts = 1 << 20

// writeHosts makes the pod's /etc/hosts hold content and returns its host
// path. An unchanged file is left alone, so it is written once per pod and
// content (not at every container start). A change goes to a temporary
// file in the pod directory that is synced and renamed over the old one: a
// full disk leaves the old file whole, and containers that have the old one
// mounted keep reading a complete file. No container controls a name in
// the pod directory, but the old file's content is the containers' (it is
// mounted read-write): it is compared only when it is a regular file of
// exactly the new content's size, reading at most that many bytes.
func writeHosts(pod *podRoot, content string) (string, error) {
	writers.Lock()
	defer writers.Unlock()
	if hostsUnchanged(pod, content) {
		return pod.path(hostsName), nil
	}
	tmp := "." + hostsName + "." + strings.ToLower(rand.Text()[:10])
	fh, err := pod.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	_, err = fh.WriteString(content)
	err = errors.Join(err, fh.Chmod(0o644), fh.Sync(), fh.Close())
	if err == nil {
		err = pod.root.Rename(tmp, hostsName)
	}
	if err != nil {
		return "", errors.Join(fmt.Errorf("write %s: %w", pod.path(hostsName), err), pod.root.Remove(tmp))
	}
	if d, err := pod.root.Open("."); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return pod.path(hostsName), nil
}

// hostsUnchanged reports whether the pod's /etc/hosts is a regular file
// that holds content, reading no more than len(content)+1 bytes of it, and
// never through a link or from a FIFO.
func hostsUnchanged(pod *podRoot, content string) bool {
	fh, err := pod.openNoFollow(".", hostsName, unix.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(len(content)) {
		return false
	}
	old, err := io.ReadAll(io.LimitReader(fh, int64(len(content))+1))
	return err == nil && bytes.Equal(old, []byte(content))
}

// hostsFile is the /etc/hosts bosun mounts into pods, as the kubelet writes
// it: the pod's own line names its hostname and, with a subdomain, its FQDN
// (runtime.PodHostnameAndDomain, so it agrees with the sandbox's hostname).
func hostsFile(pod *corev1.Pod, hostname, domain, podIP string) string {
	var b strings.Builder
	b.WriteString("# Managed by bosun: changes are lost.\n")
	if pod.Spec.HostNetwork {
		if host, err := readHostHosts("/etc/hosts"); err == nil {
			b.Write(host)
			if len(host) > 0 && host[len(host)-1] != '\n' {
				b.WriteByte('\n')
			}
		}
	} else {
		b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
		if podIP != "" {
			if domain != "" {
				fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", podIP, hostname, domain, hostname)
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

// readHostHosts reads the host's hosts file at path, at most maxHostHosts
// bytes of it, cut at its last line end when it is longer.
func readHostHosts(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxHostHosts+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxHostHosts {
		b = b[:bytes.LastIndexByte(b[:maxHostHosts], '\n')+1]
	}
	return b, nil
}
