package server

import (
	"errors"
	"strings"
	"testing"

	"github.com/bosun-sh/bosun/manifest"
	"github.com/bosun-sh/bosun/sync"
)

func staticPod(t *testing.T, file, name, image string) *manifest.StaticPod {
	t.Helper()
	y := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n  containers:\n  - name: main\n    image: " + image + "\n"
	sp, err := manifest.Load(file, []byte(y), "n1")
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func TestDiffActions(t *testing.T) {
	web := staticPod(t, "/m/web.yaml", "web", "busybox:1")
	web2 := staticPod(t, "/m/web.yaml", "web", "busybox:2")
	db := staticPod(t, "/m/db.yaml", "db", "busybox:1")
	running := func(sp *manifest.StaticPod, spec string) sync.PodStatus {
		return sync.PodStatus{Namespace: sp.Namespace, Name: sp.Name, File: sp.File, RunningHash: sp.Hash, RunningSpec: spec}
	}
	for _, tc := range []struct {
		name    string
		desired []*manifest.StaticPod
		errs    map[string]error
		running []sync.PodStatus
		want    string
	}{
		{"nothing to do", []*manifest.StaticPod{web}, nil, []sync.PodStatus{running(web, "{}")}, ""},
		{"new file", []*manifest.StaticPod{web, db}, nil, []sync.PodStatus{running(web, "{}")}, "create default/db-n1 /m/db.yaml"},
		{"known but not started", []*manifest.StaticPod{web}, nil, []sync.PodStatus{{Namespace: "default", Name: "web-n1"}}, "create default/web-n1 /m/web.yaml"},
		{"edited", []*manifest.StaticPod{web2}, nil, []sync.PodStatus{running(web, `{"a":1}`)}, "replace default/web-n1 /m/web.yaml running={\"a\":1}"},
		{"edited, older bosun", []*manifest.StaticPod{web2}, nil, []sync.PodStatus{running(web, "")}, "replace default/web-n1 /m/web.yaml running="},
		{"file gone", nil, nil, []sync.PodStatus{running(web, "{}")}, "remove default/web-n1 /m/web.yaml"},
		{"file does not load: last good", nil, map[string]error{"/other/web.yaml": errors.New("bad")}, []sync.PodStatus{running(web, "{}")}, ""},
		{"sorted", []*manifest.StaticPod{web2, db}, nil, []sync.PodStatus{running(web, "")}, "create default/db-n1 /m/db.yaml; replace default/web-n1 /m/web.yaml running="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, a := range diffActions(tc.desired, tc.errs, tc.running) {
				s := a.Action + " " + a.Pod + " " + a.File
				if a.Action == "replace" {
					s += " running=" + a.RunningSpec
					if a.RunningHash != web.Hash || a.DesiredHash != web2.Hash || !strings.Contains(a.DesiredSpec, `"image":"busybox:2"`) {
						t.Errorf("replace hashes %s -> %s, spec %s", a.RunningHash, a.DesiredHash, a.DesiredSpec)
					}
				}
				got = append(got, s)
			}
			if g := strings.Join(got, "; "); g != tc.want {
				t.Errorf("got %q, want %q", g, tc.want)
			}
		})
	}
}

func TestMayReadDir(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dir   string
		uid   uint32
		known bool
		ok    bool
	}{
		{"anyone may diff bosun's own directory", "/etc/kubernetes/manifests/", 1000, true, true},
		{"root may diff another directory", "/srv/next", 0, true, true},
		{"a group member may not have bosun read another directory", "/srv/next", 1000, true, false},
		{"an unknown caller may not either", "/srv/next", 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := mayReadDir(tc.dir, "/etc/kubernetes/manifests", tc.uid, tc.known)
			if (err == nil) != tc.ok {
				t.Errorf("mayReadDir(%q, uid %d, known %v) = %v, want ok %v", tc.dir, tc.uid, tc.known, err, tc.ok)
			}
		})
	}
}
