package runtime

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Handler is the CRI runtime handler of a pod's sandbox: its
// spec.runtimeClassName, or "" (the runtime's default). Static pods have no
// API server and so no RuntimeClass objects whose handler field the kubelet
// would map: for bosun the RuntimeClass name is the handler.
func Handler(pod *corev1.Pod) string {
	if rc := pod.Spec.RuntimeClassName; rc != nil {
		return *rc
	}
	return ""
}

// noRuntime is how containerd (1.6 and 2.x) answers RunPodSandbox for a
// handler its config does not name: `no runtime for "x" is configured`.
const noRuntime = "no runtime for "

// HandlerError makes a RunPodSandbox error about an unknown runtime handler
// say which field asked for it and what to do; other errors are returned
// as they are.
func HandlerError(handler string, err error) error {
	if handler == "" || err == nil || !strings.Contains(err.Error(), noRuntime) {
		return err
	}
	return fmt.Errorf("spec.runtimeClassName %q: the runtime has no handler %q configured (bosun uses the runtimeClassName as the CRI runtime handler; add it to containerd's config): %w", handler, handler, err)
}
