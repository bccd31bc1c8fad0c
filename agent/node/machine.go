package node

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// maxFileRead bounds every read of a file below /proc, /sys or /etc.
const maxFileRead = 4 << 10

// maxInfoLen bounds every nodeInfo string bosun reports.
const maxInfoLen = 256

// host names where the machine's facts are read: root is "/" on a node and a
// fixture directory in tests; statfs returns the size in bytes of the file
// system holding a path.
type host struct {
	root   string
	statfs func(path string) (int64, error)
}

// realHost reads the machine bosun runs on.
func realHost() host {
	return host{root: "/", statfs: statfsCapacity}
}

// machine is what bosun knows of the node it runs on. A capacity that could
// not be read is absent from capacity; a nodeInfo string that could not be
// read is empty.
type machine struct {
	capacity corev1.ResourceList
	// hugepagesKnown says that capacity lists every huge page size of the
	// machine, so that sizes absent from it are gone from the node.
	hugepagesKnown bool
	machineID      string
	systemUUID     string
	bootID         string
	kernelVersion  string
	osImage        string
}

// readMachine reads the machine's capacity and identity below h.root, with
// ephemeral storage measured at rootDir; it returns what it could read and
// every failure joined.
func readMachine(h host, rootDir string) (machine, error) {
	m := machine{capacity: corev1.ResourceList{}}
	var errs []error
	if n, err := onlineCPUs(h.root); err == nil {
		m.capacity[corev1.ResourceCPU] = *resource.NewMilliQuantity(n*1000, resource.DecimalSI)
	} else {
		errs = append(errs, err)
	}
	if b, err := memTotal(h.root); err == nil {
		m.capacity[corev1.ResourceMemory] = *resource.NewQuantity(b, resource.BinarySI)
	} else {
		errs = append(errs, err)
	}
	if h.statfs != nil && rootDir != "" {
		if b, err := h.statfs(rootDir); err == nil {
			m.capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(b, resource.DecimalSI)
		} else {
			errs = append(errs, fmt.Errorf("ephemeral storage of %s: %w", rootDir, err))
		}
	}
	if pages, err := hugePages(h.root); err == nil {
		m.hugepagesKnown = true
		for size, total := range pages {
			name := corev1.ResourceName(corev1.ResourceHugePagesPrefix + resource.NewQuantity(size, resource.BinarySI).String())
			m.capacity[name] = *resource.NewQuantity(total, resource.BinarySI)
		}
	} else {
		errs = append(errs, err)
	}
	var err error
	if m.machineID, err = firstReadable(h.root, "etc/machine-id", "var/lib/dbus/machine-id"); err != nil {
		errs = append(errs, err)
	}
	// product_uuid is absent on machines without DMI (most arm64 boards): not an error.
	m.systemUUID, _ = readSmall(h.root, "sys/class/dmi/id/product_uuid")
	if m.bootID, err = readSmall(h.root, "proc/sys/kernel/random/boot_id"); err != nil {
		errs = append(errs, err)
	}
	if m.kernelVersion, err = readSmall(h.root, "proc/sys/kernel/osrelease"); err != nil {
		errs = append(errs, err)
	}
	m.osImage = osImage(h.root)
	return m, errors.Join(errs...)
}

// readFile returns at most limit bytes of the file at rel below root.
func readFile(root, rel string, limit int64) ([]byte, error) {
	name := filepath.Join(root, rel)
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

// readSmall returns the trimmed, bounded text of a one-value file; an empty
// file is an error.
func readSmall(root, rel string) (string, error) {
	b, err := readFile(root, rel, maxFileRead)
	if err != nil {
		return "", err
	}
	s := cleanInfo(string(b))
	if s == "" {
		return "", fmt.Errorf("read %s: empty", filepath.Join(root, rel))
	}
	return s, nil
}

// firstReadable returns the value of the first of rels that readSmall reads.
func firstReadable(root string, rels ...string) (string, error) {
	var errs []error
	for _, rel := range rels {
		s, err := readSmall(root, rel)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

// cleanInfo makes s fit for a nodeInfo field: valid UTF-8, printable, trimmed
// and at most maxInfoLen bytes.
func cleanInfo(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxInfoLen {
		s = s[:maxInfoLen]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// onlineCPUs counts the CPUs listed in sys/devices/system/cpu/online ("0-3,6"),
// which, unlike runtime.NumCPU, does not depend on bosun's own affinity.
func onlineCPUs(root string) (int64, error) {
	s, err := readSmall(root, "sys/devices/system/cpu/online")
	if err != nil {
		return 0, err
	}
	n, err := countCPUList(s)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", filepath.Join(root, "sys/devices/system/cpu/online"), err)
	}
	return n, nil
}

// countCPUList counts the CPUs of a kernel CPU list such as "0-3,6".
func countCPUList(s string) (int64, error) {
	var n int64
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(lo, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("cpu list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 32); err != nil {
				return 0, fmt.Errorf("cpu list %q: %w", s, err)
			}
		}
		if b < a {
			return 0, fmt.Errorf("cpu list %q: range %s is reversed", s, part)
		}
		n += b - a + 1
	}
	if n == 0 {
		return 0, fmt.Errorf("cpu list %q: no cpu", s)
	}
	return n, nil
}

// memTotal returns MemTotal of proc/meminfo in bytes.
func memTotal(root string) (int64, error) {
	name := filepath.Join(root, "proc/meminfo")
	b, err := readFile(root, "proc/meminfo", maxFileRead)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("read %s: MemTotal %q: want <n> kB", name, strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb <= 0 || kb > 1<<53 {
			return 0, fmt.Errorf("read %s: MemTotal %q: not a size", name, fields[0])
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("read %s: no MemTotal", name)
}

// hugePages returns, for each huge page size of sys/kernel/mm/hugepages, the
// page size and the bytes of the pages reserved (0 if none). A machine
// without that directory has no huge page sizes.
func hugePages(root string) (map[int64]int64, error) {
	dir := filepath.Join(root, "sys/kernel/mm/hugepages")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return map[int64]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	pages := map[int64]int64{}
	for _, e := range entries {
		kb, ok := hugePageSizeKB(e.Name())
		if !ok {
			continue
		}
		s, err := readSmall(root, filepath.Join("sys/kernel/mm/hugepages", e.Name(), "nr_hugepages"))
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return nil, fmt.Errorf("read %s: nr_hugepages %q: not a count", filepath.Join(dir, e.Name()), s)
		}
		pages[kb*1024] = n * kb * 1024
	}
	return pages, nil
}

// hugePageSizeKB parses a directory name such as "hugepages-2048kB".
func hugePageSizeKB(name string) (int64, bool) {
	s, ok := strings.CutPrefix(name, "hugepages-")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "kB")
	if !ok {
		return 0, false
	}
	kb, err := strconv.ParseInt(s, 10, 64)
	if err != nil || kb <= 0 || kb > 1<<30 {
		return 0, false
	}
	return kb, true
}

// osImage returns PRETTY_NAME of etc/os-release (or usr/lib/os-release), or
// "Linux" when neither says, as cAdvisor does for the kubelet.
func osImage(root string) string {
	for _, rel := range []string{"etc/os-release", "usr/lib/os-release"} {
		b, err := readFile(root, rel, maxFileRead)
		if err != nil {
			continue
		}
		if s := prettyName(b); s != "" {
			return s
		}
	}
	return "Linux"
}

// prettyName returns the unquoted PRETTY_NAME of an os-release file.
func prettyName(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "PRETTY_NAME=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		} else {
			v = strings.Trim(v, `"'`)
		}
		return cleanInfo(v)
	}
	return ""
}

// statfsCapacity returns the size in bytes of the file system holding path,
// as cAdvisor reports it for the kubelet's root directory.
func statfsCapacity(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return int64(st.Blocks) * int64(st.Bsize), nil
}
