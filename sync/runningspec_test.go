package sync

import (
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-sh/bosun/runtime"
)

// The status names the hash and spec the sandbox runs, read from its
// annotations, even when the manifest asks for another version.
func TestStatusRunningVersion(t *testing.T) {
	sb := &observedSandbox{Sandbox: runtime.SandboxOf(&runtimeapi.PodSandbox{Id: "s1", Metadata: &runtimeapi.PodSandboxMetadata{Uid: "u"},
		Annotations: map[string]string{runtime.AnnotationConfigHash: "old", runtime.AnnotationSpec: `{"containers":[]}`}})}
	st := podStatus(statusInput{key: "default/web-n1", obs: &observedPod{key: "default/web-n1", sandboxes: []*observedSandbox{sb}}})
	if st.RunningHash != "old" || st.RunningSpec != `{"containers":[]}` {
		t.Errorf("running %q %q", st.RunningHash, st.RunningSpec)
	}
	none := podStatus(statusInput{key: "default/web-n1"})
	if none.RunningHash != "" || none.RunningSpec != "" {
		t.Errorf("no sandbox: running %q %q", none.RunningHash, none.RunningSpec)
	}
}
