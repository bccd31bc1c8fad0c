package runtime

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestResourceValue(t *testing.T) {
	q := resource.MustParse
	limitsOnly := corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": q("500m"), "memory": q("64Mi")}}
	both := corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": q("64Mi")}, Requests: corev1.ResourceList{"memory": q("32Mi")}}
	for _, tc := range []struct {
		name     string
		r        corev1.ResourceRequirements
		resource string
		divisor  string
		want     string
	}{
		{"a memory request defaults to the memory limit", limitsOnly, "requests.memory", "1Mi", "64"},
		{"a cpu request defaults to the cpu limit", limitsOnly, "requests.cpu", "1m", "500"},
		{"a request that is set stays what it is", both, "requests.memory", "1Mi", "32"},
		{"an unset request without a limit is 0", corev1.ResourceRequirements{}, "requests.memory", "", "0"},
		{"an unset limit is the node's allocatable memory", corev1.ResourceRequirements{}, "limits.memory", "1Mi", "1024"},
		{"cpu rounds up to the divisor", limitsOnly, "limits.cpu", "1", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &corev1.Container{Name: "main", Resources: tc.r}
			ref := &corev1.ResourceFieldSelector{Resource: tc.resource}
			if tc.divisor != "" {
				ref.Divisor = q(tc.divisor)
			}
			if got := ResourceValue(c, ref, testNode); got != tc.want {
				t.Errorf("%s = %s, want %s", tc.resource, got, tc.want)
			}
			if len(tc.r.Requests) == 0 && len(c.Resources.Requests) != 0 {
				t.Error("the container's own requests were changed")
			}
		})
	}
}
