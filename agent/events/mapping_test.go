package events

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bosun-sh/bosun/imagegc"
	"github.com/bosun-sh/bosun/rollout"
	"github.com/bosun-sh/bosun/sync"
)

func TestPostings(t *testing.T) {
	const pod = "kube-system/etcd-n1"
	normal, warning := "Normal", "Warning"
	cases := []struct {
		name string
		in   sync.Event
		want []posting
	}{
		{"a created sandbox is Created on the pod",
			sync.Event{Type: sync.EventPodCreated, Pod: pod, Message: "sandbox 1a2b attempt 0, uid u"},
			[]posting{{onPod, normal, "Created", "Created pod sandbox: sandbox 1a2b attempt 0, uid u"}}},
		{"a dead sandbox is SandboxChanged as the kubelet says it",
			sync.Event{Type: sync.EventSandboxDied, Pod: pod, Message: "sandbox 1a2b attempt 0 died; stopped and kept, a new one replaces it"},
			[]posting{{onPod, normal, "SandboxChanged", "Pod sandbox died: sandbox 1a2b attempt 0 died; stopped and kept, a new one replaces it"}}},
		{"a restarted container is Started",
			sync.Event{Type: sync.EventContainerRestarted, Pod: pod, Container: "etcd", Message: "1a2b, restart count 2"},
			[]posting{{onPod, normal, "Started", "Restarted container etcd: 1a2b, restart count 2"}}},
		{"a clean exit posts nothing",
			sync.Event{Type: sync.EventContainerExited, Pod: pod, Container: "etcd", Message: "exit code 0, Completed"}, nil},
		{"a failed exit is a Failed warning",
			sync.Event{Type: sync.EventContainerExited, Pod: pod, Container: "etcd", Message: "exit code 137, OOMKilled"},
			[]posting{{onPod, warning, "Failed", "Container etcd exited: exit code 137, OOMKilled"}}},
		{"a liveness kill is Unhealthy then Killing",
			sync.Event{Type: sync.EventContainerKilled, Pod: pod, Container: "etcd", Message: "liveness probe failed 3 times: HTTP 500"},
			[]posting{{onPod, warning, "Unhealthy", "Liveness probe failed 3 times: HTTP 500"},
				{onPod, normal, "Killing", "Stopping container etcd: it failed its liveness probe"}}},
		{"a failed postStart hook is a FailedPostStartHook warning",
			sync.Event{Type: sync.EventContainerKilled, Pod: pod, Container: "etcd", Message: "postStart hook failed: exit 1"},
			[]posting{{onPod, warning, "FailedPostStartHook", "Stopping container etcd: postStart hook failed: exit 1"}}},
		{"a pod past its deadline is Killing on the pod",
			sync.Event{Type: sync.EventContainerKilled, Pod: pod, Message: "DeadlineExceeded: the pod ran past its activeDeadlineSeconds"},
			[]posting{{onPod, normal, "Killing", "Stopping pod: DeadlineExceeded: the pod ran past its activeDeadlineSeconds"}}},
		{"a replaced pod is Killing",
			sync.Event{Type: sync.EventPodReplaced, Pod: pod, Message: "manifest changed; new uid u2"},
			[]posting{{onPod, normal, "Killing", "Replacing pod: manifest changed; new uid u2"}}},
		{"a probe warning is a ProbeWarning warning",
			sync.Event{Type: sync.EventProbeWarning, Pod: pod, Container: "etcd", Message: "readiness probe: redirect"},
			[]posting{{onPod, warning, "ProbeWarning", "Container etcd: readiness probe: redirect"}}},
		{"a failed sync is a Failed warning",
			sync.Event{Type: sync.EventSyncFailed, Pod: pod, Message: "pod kube-system/etcd-n1 container etcd: image missing"},
			[]posting{{onPod, warning, "Failed", "pod kube-system/etcd-n1 container etcd: image missing"}}},
		{"a rollback is a RolledBack warning on the pod",
			sync.Event{Type: rollout.EventRolledBack, Pod: pod, Message: "version b rolled back to a"},
			[]posting{{onPod, warning, "RolledBack", "version b rolled back to a"}}},
		{"a complete rollout is Normal",
			sync.Event{Type: rollout.EventRolloutComplete, Pod: pod, Message: "version b is Ready"},
			[]posting{{onPod, normal, "RolloutComplete", "version b is Ready"}}},
		{"a manifest conflict goes on the Node",
			sync.Event{Type: sync.EventManifestConflict, Pod: pod, File: "/m/a.yaml", Message: "manifest a.yaml: names pod etcd-n1 as b.yaml does"},
			[]posting{{onNode, warning, "ManifestConflict", "manifest a.yaml: names pod etcd-n1 as b.yaml does"}}},
		{"an unreadable manifest directory is a warning on the Node",
			sync.Event{Type: sync.EventManifestsUnreadable, Message: "open /m: permission denied"},
			[]posting{{onNode, warning, "ManifestDirectoryUnavailable", "open /m: permission denied"}}},
		{"an unavailable runtime is a warning on the Node",
			sync.Event{Type: sync.EventRuntimeUnavailable, Message: "connection refused"},
			[]posting{{onNode, warning, "RuntimeUnavailable", "Container runtime unavailable: connection refused"}}},
		{"a failed image collection is the kubelet's ImageGCFailed on the Node",
			sync.Event{Type: sync.EventType(imagegc.EventImageGCFailed), Message: "list images: unavailable"},
			[]posting{{onNode, warning, "ImageGCFailed", "list images: unavailable"}}},
		{"a failed image preload names its file",
			sync.Event{Type: "ImagePreloadFailed", File: "/p/etcd.tar", Message: "import: bad archive"},
			[]posting{{onNode, warning, "ImagePreloadFailed", "/p/etcd.tar: import: bad archive"}}},
		{"an unknown pod event is Normal on the pod with its type as reason",
			sync.Event{Type: "SomethingNew", Pod: pod, Container: "etcd", Message: "hello"},
			[]posting{{onPod, normal, "SomethingNew", "etcd: hello"}}},
		{"an unknown node event is Normal on the Node",
			sync.Event{Type: "SomethingElse", Message: "hello"},
			[]posting{{onNode, normal, "SomethingElse", "hello"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := postings(c.in); !reflect.DeepEqual(got, c.want) {
				t.Errorf("postings(%+v)\n got %+v\nwant %+v", c.in, got, c.want)
			}
		})
	}
}

func TestMessage(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain text is kept", "exit code 1", "exit code 1"},
		{"newlines and escapes are escaped", "a\nb\x1b[0m\tc", `a\nb\x1b[0m\tc`},
		{"invalid UTF-8 is replaced", "a\xffb", "a\uFFFDb"},
		{"a long message is cut on a character boundary", strings.Repeat("é", 600), strings.Repeat("é", 510) + "…"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Message(c.in)
			if got != c.want || len(got) > MaxMessage || !utf8.ValidString(got) {
				t.Errorf("Message(%.40q) = %.60q (%d bytes), want %.60q", c.in, got, len(got), c.want)
			}
		})
	}
}
