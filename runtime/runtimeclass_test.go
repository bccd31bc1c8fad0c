package runtime

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestHandler(t *testing.T) {
	pod := &corev1.Pod{}
	if h := Handler(pod); h != "" {
		t.Errorf("no runtimeClassName: handler %q, want \"\"", h)
	}
	rc := "runc-alt"
	pod.Spec.RuntimeClassName = &rc
	if h := Handler(pod); h != "runc-alt" {
		t.Errorf("runtimeClassName runc-alt: handler %q", h)
	}
}

func TestHandlerError(t *testing.T) {
	unknown := errors.New(`RunPodSandbox web-node: rpc error: code = Unknown desc = no runtime for "nope" is configured`)
	other := errors.New("RunPodSandbox web-node: failed to setup network")
	for _, tc := range []struct {
		handler string
		err     error
		want    string
	}{
		{"nope", unknown, `spec.runtimeClassName "nope": the runtime has no handler "nope" configured (bosun uses the runtimeClassName as the CRI runtime handler; add it to containerd's config): ` + unknown.Error()},
		{"nope", other, other.Error()},
		{"", unknown, unknown.Error()},
	} {
		got := HandlerError(tc.handler, tc.err)
		if got.Error() != tc.want {
			t.Errorf("HandlerError(%q, %q) = %q, want %q", tc.handler, tc.err, got, tc.want)
		}
		if !errors.Is(got, tc.err) {
			t.Errorf("HandlerError(%q, %q) does not wrap the error", tc.handler, tc.err)
		}
	}
	if HandlerError("x", nil) != nil {
		t.Error("HandlerError of nil is not nil")
	}
}
