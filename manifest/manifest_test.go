package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testNode = "node1"

func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*-*.*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Load(f, data, testNode)
			if strings.HasPrefix(filepath.Base(f), "valid-") {
				if err != nil {
					t.Fatalf("valid fixture rejected: %v", err)
				}
				return
			}
			var want []string
			for _, l := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(l, "# want: "); ok {
					want = append(want, w)
				}
			}
			if len(want) == 0 {
				t.Fatal("invalid fixture without a '# want: ' line")
			}
			if err == nil {
				t.Fatalf("accepted; want error:\n%s", strings.Join(want, "\n"))
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("error:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

// TestHashGolden pins the spec hash of a fixed manifest: if it changes, an
// upgrade of bosun would restart every pod on every node.
func TestHashGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/valid-web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := Load("testdata/valid-web.yaml", data, testNode)
	if err != nil {
		t.Fatal(err)
	}
	const golden = "9ce8e5bc7971b64e18a69d6426342f9d"
	if sp.Hash != golden || sp.UID != golden {
		t.Errorf("hash = %s, uid = %s, want %s: the hash of an unchanged manifest must never change", sp.Hash, sp.UID, golden)
	}
	if sp.Name != "web-node1" || sp.Namespace != "kube-system" || sp.Key() != "kube-system/web-node1" {
		t.Errorf("identity = %s %s %s", sp.Name, sp.Namespace, sp.Key())
	}
}

func mustLoad(t *testing.T, yaml, node string) *StaticPod {
	t.Helper()
	sp, err := Load("x.yaml", []byte(yaml), node)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

const base = `apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: ["sleep", "1"]
`

func TestHashIgnoresFormAndChangesWithMeaning(t *testing.T) {
	h := mustLoad(t, base, testNode).Hash
	same := map[string]string{
		"comments and blank lines": "# hello\n\n" + base + "\n# bye\n",
		"key order":                strings.Replace(base, "apiVersion: v1\nkind: Pod\n", "kind: Pod\napiVersion: v1\n", 1),
		"flow style":               `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "1"]}]}}`,
		"explicit defaults": base + "  restartPolicy: Always\n  terminationGracePeriodSeconds: 30\n  dnsPolicy: ClusterFirst\n" +
			"  securityContext: {}\n",
		"explicit container defaults": strings.Replace(base, "    image: busybox:1.36\n",
			"    image: busybox:1.36\n    imagePullPolicy: IfNotPresent\n    terminationMessagePath: /dev/termination-log\n    terminationMessagePolicy: File\n", 1),
		"explicit namespace": strings.Replace(base, "  name: p\n", "  name: p\n  namespace: default\n", 1),
	}
	for name, y := range same {
		if got := mustLoad(t, y, testNode).Hash; got != h {
			t.Errorf("%s changed the hash", name)
		}
	}
	different := map[string]string{
		"command":        strings.Replace(base, `"1"`, `"2"`, 1),
		"image":          strings.Replace(base, "1.36", "1.37", 1),
		"label":          strings.Replace(base, "  name: p\n", "  name: p\n  labels: {a: b}\n", 1),
		"restart policy": base + "  restartPolicy: Never\n",
	}
	for name, y := range different {
		if got := mustLoad(t, y, testNode).Hash; got == h {
			t.Errorf("a change of %s kept the hash", name)
		}
	}
	if got := mustLoad(t, base, "node2").Hash; got == h {
		t.Error("another node kept the hash")
	}
	if got := mustLoad(t, base, "NODE1").Hash; got != h {
		t.Error("the node name's case changed the hash")
	}
}

func TestUIDFromManifestIsKept(t *testing.T) {
	sp := mustLoad(t, strings.Replace(base, "  name: p\n", "  name: p\n  uid: 1234-abcd\n", 1), testNode)
	if sp.UID != "1234-abcd" || sp.Hash == sp.UID {
		t.Errorf("uid %s hash %s", sp.UID, sp.Hash)
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for image, want := range map[string]string{
		"busybox":                          "Always",
		"busybox:latest":                   "Always",
		"busybox:1.36":                     "IfNotPresent",
		"localhost:5000/busybox":           "Always",
		"localhost:5000/busybox:1.36":      "IfNotPresent",
		"busybox@sha256:0123456789abcdef0": "IfNotPresent",
	} {
		if got := string(defaultPullPolicy(image)); got != want {
			t.Errorf("defaultPullPolicy(%q) = %s, want %s", image, got, want)
		}
	}
}

func TestLineOf(t *testing.T) {
	_, root, err := decode([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"metadata.name":                 4,
		"spec.containers[0]":            7,
		"spec.containers[0].image":      8,
		"spec.containers[0].command[1]": 9,
		"spec.nothing":                  0,
	} {
		if got := lineOf(root, path); got != want {
			t.Errorf("lineOf(%s) = %d, want %d", path, got, want)
		}
	}
}

func TestAliasBombIsRefusedFast(t *testing.T) {
	bomb := "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+",", 9) + "*" + prev + "]\n"
		prev = n
	}
	done := make(chan error, 1)
	go func() { _, err := Decode([]byte(bomb)); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("alias bomb accepted")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("alias bomb not refused within 10 s")
	}
}
