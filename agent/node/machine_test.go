package node

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCountCPUList(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		wantErr  bool
	}{
		{"a single cpu counts one", "0", 1, false},
		{"a range counts its ends", "0-3", 4, false},
		{"ranges and singles add up", "0-3,6,8-9\n", 7, false},
		{"a reversed range is an error", "3-0", 0, true},
		{"text is an error", "all", 0, true},
		{"an empty list is an error", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := countCPUList(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("countCPUList(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestMemTotal(t *testing.T) {
	tests := []struct {
		name, meminfo string
		want          int64
		wantErr       string
	}{
		{"MemTotal in kB is returned in bytes", "MemTotal:       16384 kB\nMemFree: 1 kB\n", 16384 * 1024, ""},
		{"a meminfo without MemTotal is an error", "MemFree: 1 kB\n", 0, "no MemTotal"},
		{"a MemTotal in another unit is an error", "MemTotal: 16 MB\n", 0, "want <n> kB"},
		{"a MemTotal that is no number is an error", "MemTotal: x kB\n", 0, "not a size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, root, "proc/meminfo", tt.meminfo)
			got, err := memTotal(root)
			if got != tt.want || (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("memTotal = %d, %v; want %d, error containing %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPrettyName(t *testing.T) {
	tests := []struct{ name, osRelease, want string }{
		{"a double-quoted PRETTY_NAME is unquoted", "ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", "Debian GNU/Linux 12 (bookworm)"},
		{"a single-quoted PRETTY_NAME is unquoted", "PRETTY_NAME='Alpine Linux v3.20'\n", "Alpine Linux v3.20"},
		{"a bare PRETTY_NAME is kept", "PRETTY_NAME=Flatcar\n", "Flatcar"},
		{"control characters are blanked", "PRETTY_NAME=\"evil\\x1b[31m\"\n", "evil [31m"},
		{"no PRETTY_NAME is empty", "NAME=x\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := prettyName([]byte(tt.osRelease)); got != tt.want {
				t.Fatalf("prettyName = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCleanInfoBoundsAndTrims(t *testing.T) {
	if got := cleanInfo("  a\x00b\n"); got != "a b" {
		t.Errorf("cleanInfo = %q, want %q", got, "a b")
	}
	long := strings.Repeat("é", 200)
	if got := cleanInfo(long); len(got) > maxInfoLen || !strings.HasPrefix(long, got) {
		t.Errorf("cleanInfo of %d bytes = %d bytes, want a valid prefix of at most %d", len(long), len(got), maxInfoLen)
	}
}

func TestReadMachineReportsWhatItCouldReadAndEveryFailure(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "sys/devices/system/cpu/online", "0-1\n")
	writeFile(t, root, "proc/sys/kernel/osrelease", "6.1.0\n")
	writeFile(t, root, "etc/machine-id", strings.Repeat("a", 10000))
	h := host{root: root, statfs: func(string) (int64, error) { return 0, errors.New("no such file system") }}

	m, err := readMachine(h, "/var/lib/bosun")
	if err == nil {
		t.Fatal("readMachine succeeded without meminfo, boot_id and a file system")
	}
	for _, want := range []string{"meminfo", "boot_id", "no such file system"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if q := m.capacity[corev1.ResourceCPU]; q.Cmp(resource.MustParse("2")) != 0 {
		t.Errorf("cpu = %s, want 2", q.String())
	}
	if _, ok := m.capacity[corev1.ResourceMemory]; ok {
		t.Error("memory is reported though meminfo is missing")
	}
	if !m.hugepagesKnown {
		t.Error("a machine without a hugepages directory has no huge page sizes, and that is known")
	}
	if len(m.machineID) != maxInfoLen {
		t.Errorf("machine ID of %d bytes, want it bounded to %d", len(m.machineID), maxInfoLen)
	}
	if m.kernelVersion != "6.1.0" || m.osImage != "Linux" || m.systemUUID != "" {
		t.Errorf("kernel %q, os image %q, system UUID %q; want 6.1.0, Linux, empty", m.kernelVersion, m.osImage, m.systemUUID)
	}
}

func TestReadyIsFalseWhenTheCapacityTheSchedulerNeedsIsUnknown(t *testing.T) {
	n := &corev1.Node{}
	applyStatus(n, statusInput{machine: machine{capacity: corev1.ResourceList{}}, ready: true, now: time.Unix(100, 0)})
	r := n.Status.Conditions[0]
	if r.Status != corev1.ConditionFalse || !strings.Contains(r.Message, "cpu, memory") {
		t.Fatalf("Ready = %s %q, want False naming cpu and memory", r.Status, r.Message)
	}
}

func TestStatusChangedIgnoresHeartbeatsAndConditionOrder(t *testing.T) {
	a := &corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(time.Unix(1, 0))},
		{Type: "KernelDeadlock", Status: corev1.ConditionFalse},
	}}}
	b := a.DeepCopy()
	b.Status.Conditions[0], b.Status.Conditions[1] = b.Status.Conditions[1], b.Status.Conditions[0]
	b.Status.Conditions[1].LastHeartbeatTime = metav1.NewTime(time.Unix(2, 0))
	if statusChanged(a, b) {
		t.Error("a new heartbeat alone is a change")
	}
	b.Status.Conditions[1].Status = corev1.ConditionFalse
	if !statusChanged(a, b) {
		t.Error("a Ready flip is not a change")
	}
	c := a.DeepCopy()
	c.Labels = map[string]string{"kubernetes.io/os": "linux"}
	if !statusChanged(a, c) {
		t.Error("a new label is not a change")
	}
}

func TestValidateLabels(t *testing.T) {
	tests := []struct {
		name    string
		labels  map[string]string
		wantErr []string
	}{
		{"labels outside kubernetes.io are fine", map[string]string{"example.com/rack": "r1", "tier": "cp"}, nil},
		{"the kubelet's own labels are fine", map[string]string{"topology.kubernetes.io/zone": "a", "kubernetes.io/hostname": "x"}, nil},
		{"the kubelet and node namespaces are fine", map[string]string{"foo.node.kubernetes.io/x": "y", "kubelet.kubernetes.io/z": "1"}, nil},
		{"other kubernetes.io labels, node-role ones too, are refused", map[string]string{"kubernetes.io/role": "master", "x.k8s.io/y": "z", "node-role.kubernetes.io/control-plane": ""}, []string{`"kubernetes.io/role"`, `"x.k8s.io/y"`, `"node-role.kubernetes.io/control-plane"`}},
		{"node-restriction labels are refused", map[string]string{"node-restriction.kubernetes.io/a": "b"}, []string{`"node-restriction.kubernetes.io/a"`}},
		{"malformed keys and values are refused", map[string]string{"bad key": "v", "ok": "bad value"}, []string{`"bad key"`, `"bad value"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateLabels(tt.labels)
			if (err == nil) != (len(tt.wantErr) == 0) {
				t.Fatalf("ValidateLabels = %v, want errors naming %v", err, tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}
