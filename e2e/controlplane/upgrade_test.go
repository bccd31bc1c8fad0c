package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// upgradeIgnored are the preflight checks of `kubeadm upgrade apply` and
// `kubeadm upgrade node` a node run by bosun fails, each for a reason that
// is not a problem on such a node:
//   - SystemVerification: as for kubeadm init, the check runs `kubelet
//     --version`, and there is no kubelet binary.
var upgradeIgnored = []string{"SystemVerification"}

// versionURLs are where each component says its release on the node:
// kube-apiserver's /version; kube-controller-manager and kube-scheduler
// serve no /version, their /metrics has kubernetes_build_info's git_version.
// etcd serves its own version, the same binary at both releases here, and
// only to clients with a certificate: its image tag is checked.
var versionURLs = map[string]string{
	"kube-apiserver":          "https://" + nodeIP + ":6443/version",
	"kube-controller-manager": "https://127.0.0.1:10257/metrics",
	"kube-scheduler":          "https://127.0.0.1:10259/metrics",
}

// TestUpgrade initialises a control plane at KUBE_OLD_VERSION under bosun
// and upgrades it with `kubeadm upgrade apply KUBE_VERSION`, the way a user
// upgrades a kubeadm cluster, while a client reads an object every 100 ms:
// every component ends on the new release (its mirror pod, the container
// bosun runs, its /version), the failed requests are counted. Then `kubeadm
// upgrade node` on the same node changes nothing. It runs once under each
// agent BOSUN_CP_AGENT lists (bosun by default; bosun,kubelet for the
// side-by-side figures), on the same containerd.
func TestUpgrade(t *testing.T) {
	if kubeOldVersion == "" {
		t.Skip("KUBE_OLD_VERSION is not set (make e2e-controlplane sets it)")
	}
	for _, a := range agents {
		t.Run(a, func(t *testing.T) {
			agent = a
			defer func() { agent = "bosun" }()
			testUpgrade(t)
		})
	}
}

func testUpgrade(t *testing.T) {
	m := measured{title: fmt.Sprintf("kubeadm upgrade apply %s → %s", kubeOldVersion, kubeVersion)}
	defer m.print()
	ctx := context.Background()
	for _, p := range fixedPaths {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists: the test before did not clean the node", p)
		}
	}
	oldImages, err := kubeadmImages(ctx, oldKubeBin, kubeOldVersion)
	if err != nil {
		t.Fatal(err)
	}
	if err := importImages(ctx, oldImages, oldKubeBin); err != nil {
		t.Fatal(err)
	}
	newImages, err := kubeadmImages(ctx, kubeBin, kubeVersion)
	if err != nil {
		t.Fatal(err)
	}

	cp := kubeadmInit(t, &m, "upgrade-"+agent, oldKubeBin, kubeOldVersion)
	defer resetNode(t, cp.r)
	defer cp.stop(t)
	checkRelease(t, cp, oldImages, kubeOldVersion)

	want := map[string]string{"written": time.Now().UTC().Format(time.RFC3339Nano)}
	if err := cp.api.putConfigMap(ctx, "bosun-e2e", want); err != nil {
		t.Fatal(err)
	}
	p := cp.api.startProber("bosun-e2e", want)
	args := []string{"upgrade", "apply", kubeVersion, "--yes", "--ignore-preflight-errors=" + strings.Join(upgradeIgnored, ",")}
	_, took := netnsKubeadm(t, kubeBin, 15*time.Minute, args...)
	samples := p.finish()
	n, first := failures(samples)
	down, firstFail, firstOK := downtime(samples)
	t.Logf("during kubeadm upgrade apply: %d of %d probe rounds failed (first: %v); API down %v (from %s to %s)",
		n, len(samples), first, down.Round(time.Millisecond), firstFail.Format("15:04:05.000"), firstOK.Format("15:04:05.000"))
	m.add(fmt.Sprintf("`kubeadm upgrade apply %s --yes` wall time", kubeVersion), secs(took))
	m.add("… failed requests (a read of /readyz and a ConfigMap every 100 ms) / API down from first to last failure",
		fmt.Sprintf("%d of %d / %s", n, len(samples), secs(down)))

	waitNode(t, cp.kc, time.Minute)
	waitMirrors(t, cp.kc, cp.r, 2*time.Minute, "after kubeadm upgrade apply")
	checkRelease(t, cp, newImages, kubeVersion)
	if got, err := cp.api.getConfigMap(ctx, "bosun-e2e"); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("configmap bosun-e2e read back %v, %v after the upgrade; want %v", got, err, want)
	}

	before := containers(t)
	mark := len(cp.r.log())
	_, took = netnsKubeadm(t, kubeBin, 10*time.Minute, "upgrade", "node", "--ignore-preflight-errors="+strings.Join(upgradeIgnored, ","))
	time.Sleep(3 * time.Second) // bosun's next syncs see the manifests kubeadm rewrote, if any
	kept := "all kept"
	if err := sameContainers(before, containers(t)); err != nil {
		t.Errorf("kubeadm upgrade node at the same release changed a container: %v", err)
		kept = "not kept"
	}
	calls := mutatingCalls(t, cp.r.log()[mark:])
	counted := fmt.Sprint(len(calls))
	if agent == "kubelet" {
		counted = "not counted" // bosun's log only
	}
	if len(calls) > 0 {
		t.Errorf("bosun made mutating CRI calls after kubeadm upgrade node at the same release: %v", calls)
	}
	waitMirrors(t, cp.kc, cp.r, time.Minute, "after kubeadm upgrade node")
	m.add("`kubeadm upgrade node` at the same release: wall time, containers, mutating CRI calls",
		fmt.Sprintf("%s, %s, %s", secs(took), kept, counted))
}

// checkRelease checks every component runs the release: its mirror pod's
// image and the image of the container bosun runs are the ones kubeadm
// names for it (under the kubelet: among its image's tags), and the
// component's /version says so.
func checkRelease(t *testing.T, cp *controlPlane, images map[string]string, version string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mirrors, err := mirrorPods(ctx, cp.kc)
	if err != nil {
		t.Fatal(err)
	}
	bosun, err := cp.r.bosunPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range components {
		want := images[c]
		mp := mirrors[c]
		if got := mp.Spec.Containers[0].Image; got != want {
			t.Errorf("mirror pod %s: image %s, want %s", mp.Name, got, want)
		}
		b := bosun[mirrorName(c)]
		for _, cs := range mp.Status.ContainerStatuses {
			// The kubelet names one of its image's tags: etcd's image has
			// both releases' (the same etcd binary).
			kubeletTag := agent == "kubelet" && len(b.Containers) == 1 && slices.Contains(b.Containers[0].Tags, want)
			if cs.Image != want && !kubeletTag {
				t.Errorf("mirror pod %s: status of container %s: image %s, want %s", mp.Name, cs.Name, cs.Image, want)
			}
		}
		if len(b.Containers) != 1 || (b.Containers[0].Image != want && !slices.Contains(b.Containers[0].Tags, want)) {
			t.Errorf("bosun runs %s with %+v, want image %s", mirrorName(c), b.Containers, want)
		}
		if url, ok := versionURLs[c]; ok {
			got, err := cp.api.componentVersion(ctx, url)
			if err != nil {
				t.Errorf("%s /version: %v", c, err)
			} else if got != version {
				t.Errorf("%s /version: %s, want %s", c, got, version)
			}
		}
	}
	t.Logf("all components on %s: %v", version, images)
}

// componentVersion is the release a component says it is at url (its
// /version's gitVersion, or its /metrics' kubernetes_build_info git_version),
// asked with admin.conf's client certificate; the components' serving
// certificates are their own self-signed ones, not verified.
func (c *apiClient) componentVersion(ctx context.Context, url string) (string, error) {
	tr := c.http.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.InsecureSkipVerify = true
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", fmt.Errorf("%s: %w", url, err)
	}
	if strings.HasSuffix(url, "/version") {
		var v struct {
			GitVersion string `json:"gitVersion"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return "", fmt.Errorf("%s: %w", url, err)
		}
		return v.GitVersion, nil
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "kubernetes_build_info{"); ok {
			if _, v, ok := strings.Cut(rest, `git_version="`); ok {
				return v[:strings.Index(v, `"`)], nil
			}
		}
	}
	return "", fmt.Errorf("%s: no kubernetes_build_info git_version", url)
}
