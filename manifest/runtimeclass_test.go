package manifest

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestRuntimeClassName checks that runtimeClassName is accepted when it is a
// DNS-1123 subdomain, as the API server accepts it, and refused otherwise.
func TestRuntimeClassName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"runc-alt", true},
		{"kata.fc", true},
		{"", false},
		{"gVisor", false},
		{"../x", false},
		{strings.Repeat("a", 254), false},
	} {
		pod := &corev1.Pod{}
		pod.Name, pod.Namespace = "p", "default"
		pod.Spec.RestartPolicy, pod.Spec.DNSPolicy = corev1.RestartPolicyAlways, corev1.DNSClusterFirst
		pod.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent,
			TerminationMessagePolicy: corev1.TerminationMessageReadFile, TerminationMessagePath: "/dev/termination-log"}}
		rc := tc.name
		pod.Spec.RuntimeClassName = &rc
		err := Validate(pod, "node")
		if tc.ok && err != nil {
			t.Errorf("runtimeClassName %q: %v", tc.name, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "spec.runtimeClassName")) {
			t.Errorf("runtimeClassName %q: error %v, want one naming spec.runtimeClassName", tc.name, err)
		}
	}
}
