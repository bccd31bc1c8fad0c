package runtime

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The sandbox keeps the decoded, defaulted spec of the version it runs, so
// `bosun diff` can show fields after a restart of bosun; the hash is not
// computed from it.
func TestSandboxConfigKeepsSpec(t *testing.T) {
	sp := staticPod(t, strings.Replace(podYAML, "%s", "hostNetwork: false", 1))
	hash := sp.Hash
	cfg := SandboxConfig(sp, 0, testNode, time.Unix(0, 0))
	var got corev1.PodSpec
	if err := json.Unmarshal([]byte(cfg.Annotations[AnnotationSpec]), &got); err != nil {
		t.Fatalf("annotation %s: %v", AnnotationSpec, err)
	}
	if len(got.Containers) == 0 || got.Containers[0].Image != sp.Pod.Spec.Containers[0].Image ||
		got.Containers[0].TerminationMessagePath != "/dev/termination-log" || got.NodeName != sp.Pod.Spec.NodeName {
		t.Errorf("spec annotation %s is not the defaulted spec", cfg.Annotations[AnnotationSpec])
	}
	if sp.Hash != hash || cfg.Annotations[AnnotationConfigHash] != hash {
		t.Errorf("hash changed")
	}
}
