package agent

import (
	"strings"
	"testing"
)

func TestNodeLabelsAreReadAsTheKubeletReadsThem(t *testing.T) {
	got, err := ParseNodeLabels("tier=control, node.kubernetes.io/exclude-from-external-load-balancers=,example.com/rack=r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["tier"] != "control" || got["example.com/rack"] != "r1" {
		t.Errorf("got %v", got)
	}
	for in, want := range map[string]string{
		"tier":                                   `"tier" is not key=value`,
		"node-role.kubernetes.io/control-plane=": `"node-role.kubernetes.io/control-plane": a node may not set it on itself`,
		"node-restriction.kubernetes.io/x=y":     `"node-restriction.kubernetes.io/x": a node may not set it on itself`,
		"-bad=x":                                 `node label "-bad"`,
		"a=b c":                                  `value "b c"`,
	} {
		if _, err := ParseNodeLabels(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseNodeLabels(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestTaintsAreReadAsKubectlWritesThem(t *testing.T) {
	got, err := ParseTaints("node-role.kubernetes.io/control-plane:NoSchedule,dedicated=etcd:NoExecute")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "node-role.kubernetes.io/control-plane" || got[0].Effect != "NoSchedule" ||
		got[1].Key != "dedicated" || got[1].Value != "etcd" || got[1].Effect != "NoExecute" {
		t.Errorf("got %+v", got)
	}
	for in, want := range map[string]string{
		"a=b":                       "want key[=value]:Effect",
		"a:Sometimes":               `effect "Sometimes"`,
		"a:NoSchedule,a:NoSchedule": "a:NoSchedule given twice",
	} {
		if _, err := ParseTaints(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTaints(%q) = %v, want an error with %q", in, err, want)
		}
	}
}
