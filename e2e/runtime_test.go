package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestContainerdRestartLeavesPodsRunning(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("steady.yaml", sleeperPod("steady", "Always"))
	c := e.waitRunning("steady", "main")

	mark := len(e.log())
	if out, err := exec.Command("../hack/containerd.sh", "restart", containerdDir).CombinedOutput(); err != nil {
		t.Fatalf("restart containerd: %v\n%s", err, out)
	}
	// bosun keeps going and acts again once the runtime is back.
	e.write("after.yaml", sleeperPod("after", "Always"))
	e.waitRunning("after", "main")
	if got := e.pod("steady").running("main"); got == nil || got.Id != c.Id {
		t.Fatalf("after a containerd restart the pod is not running as before: %v", got)
	}
	for _, call := range mutatingCalls(e.logSince(mark)) {
		if call != "RunPodSandbox" && call != "CreateContainer" && call != "StartContainer" {
			t.Errorf("a containerd restart led to a %s call", call)
		}
	}
	if strings.Count(e.logSince(mark), `msg="sandbox created"`) != 1 {
		t.Errorf("want exactly one sandbox created (the new pod) after the restart")
	}
}

func TestPodNetworkPodGetsAnAddressOnTheTestBridge(t *testing.T) {
	e := newEnv(t)
	e.startBosun()
	e.write("net.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: net
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: %s
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]
    ports:
    - containerPort: 8080
`, busybox))
	e.waitRunning("net", "web")
	st, err := cri.PodSandboxStatus(t.Context(), e.pod("net").ready().Id)
	if err != nil {
		t.Fatal(err)
	}
	ip := st.GetNetwork().GetIp()
	if !strings.HasPrefix(ip, "10.88.7.") {
		t.Fatalf("pod IP %q, want one from the test bridge's 10.88.7.0/24", ip)
	}
	// The pod lives in a network namespace this test's CNI bridge created.
	var body string
	eventually(t, 30*time.Second, "the pod's page on its own address", func() bool {
		body, _ = get("http://" + ip + ":8080/")
		return body != ""
	})
	if want := e.podName("net") + "\n"; body != want {
		t.Errorf("page %q, want the pod's hostname %q (<name>-<node>, as the kubelet names it)", body, want)
	}
}

func TestExitsAreSeenThroughEventsWithoutRelisting(t *testing.T) {
	// No full relist and no container relist for a minute: only runtime
	// events can make bosun see the exits in time.
	e := newEnv(t, "--sync-frequency=60s", "--container-relist-period=60s",
		"--crash-loop-backoff-initial=100ms", "--crash-loop-backoff-max=100ms")
	mark := len(e.log())
	e.startBosun()
	e.write("blink.yaml", onePod("blink", "Always", 30, "sh", "-c", "sleep 0.2; exit 1"))
	// Well within the 60 s after which a relist would see them.
	eventually(t, 40*time.Second, "three restarts seen through events", func() bool {
		c := e.pod("blink").container("main")
		return c != nil && c.Metadata.Attempt >= 3
	})
	// A stream that kept breaking would wake the loop every second instead:
	// that is a relist too, not the event path this test is about.
	for _, fallback := range []string{"relisting containers", "container event stream broken"} {
		if strings.Contains(e.logSince(mark), fallback) {
			t.Errorf("bosun saw the exits through a fallback (%q in its log), not through events", fallback)
		}
	}
}

func TestForeignPodsAreNeverTouched(t *testing.T) {
	ctx := t.Context()
	name := randomName("foreign")
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: name},
		LogDirectory: t.TempDir(),
		Labels:       map[string]string{"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": "default"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}},
	}
	sb, err := cri.RunPodSandbox(ctx, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cri.StopPodSandbox(context.Background(), sb)
		_ = cri.RemovePodSandbox(context.Background(), sb)
	})
	e := newEnv(t)
	e.startBosun()
	mark := len(e.log())
	e.write("mine.yaml", sleeperPod("mine", "Always"))
	e.waitRunning("mine", "main")
	e.waitRelists(mark, 3)
	sbs, err := cri.ListPodSandbox(ctx, map[string]string{"io.kubernetes.pod.name": name})
	if err != nil || len(sbs) != 1 || sbs[0].State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Fatalf("the sandbox without bosun's label was touched: %v %v", sbs, err)
	}
	if strings.Contains(e.logSince(mark), sb) {
		t.Errorf("bosun acted on the foreign sandbox %s", sb)
	}
}
