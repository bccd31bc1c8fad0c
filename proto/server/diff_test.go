package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/bosun-sh/bosun/manifest"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
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

func TestOnlyRootMayDiff(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dir   string
		uid   uint32
		known bool
		ok    bool
	}{
		{"root may diff bosun's own directory", "", 0, true, true},
		{"root may diff another directory", "/srv/next", 0, true, true},
		{"a group member may not diff bosun's own directory: it would read env values from 0600 manifests", "", 1000, true, false},
		{"a group member may not have bosun read another directory", "/srv/next", 1000, true, false},
		{"an unknown caller may not diff", "", 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(secretPod), 0o600); err != nil {
				t.Fatal(err)
			}
			s := New(fakeState{}, &bosunv1.Info{Node: "n1", ManifestDir: dir})
			ctx := context.Background()
			if tc.known {
				ctx = peer.NewContext(ctx, &peer.Peer{Addr: credAddr{uid: tc.uid}})
			}
			want := tc.dir
			if want != "" {
				want = dir // another directory than bosun's own
				s.info.ManifestDir = t.TempDir()
			}
			resp, err := s.Diff(ctx, &bosunv1.DiffRequest{Dir: want})
			if !tc.ok {
				if status.Code(err) != codes.PermissionDenied || strings.Contains(resp.String(), "hunter2") {
					t.Errorf("uid %d (known %v): %v, %v; want PermissionDenied and no spec", tc.uid, tc.known, resp, err)
				}
				return
			}
			if err != nil || len(resp.GetActions()) != 1 || !strings.Contains(resp.GetActions()[0].GetDesiredSpec(), "hunter2") {
				t.Errorf("root: %v, %v; want the create with its spec", resp, err)
			}
		})
	}
}

// secretPod is a manifest with an env value that only root may read.
const secretPod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: main\n    image: busybox:1\n    env:\n    - name: PASSWORD\n      value: hunter2\n"
