package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bosun-sh/bosun/manifest"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/rollout"
	"github.com/bosun-sh/bosun/sync"
)

// Diff loads the manifests of the request's directory (default: bosun's
// own) as the daemon does and says what a sync would do with them now. It
// changes nothing. Symlinked manifests are not followed. Only root may ask
// (mayDiff).
func (s *Server) Diff(ctx context.Context, req *bosunv1.DiffRequest) (*bosunv1.DiffResponse, error) {
	uid, known := callerUID(ctx)
	if err := mayDiff(uid, known); err != nil {
		return nil, err
	}
	dir := req.GetDir()
	if dir == "" {
		dir = s.info.ManifestDir
	}
	if !filepath.IsAbs(dir) {
		return nil, status.Errorf(codes.InvalidArgument, "directory %q is not absolute", dir)
	}
	src := manifest.NewSource(manifest.SourceConfig{
		Path: dir, Node: s.node, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Notify: func() {},
	})
	src.Scan()
	snap := src.Snapshot()
	if !snap.Available {
		return nil, status.Errorf(codes.FailedPrecondition, "manifest directory %s: %v", dir, snap.Err)
	}
	out := &bosunv1.DiffResponse{Dir: dir, Actions: diffActions(snap.Pods, snap.Errors, s.state.Pods())}
	if filepath.Clean(dir) == filepath.Clean(s.info.ManifestDir) {
		out.Actions = s.withoutRollbacks(out.Actions)
	}
	for f, err := range snap.Errors {
		out.ManifestErrors = append(out.ManifestErrors, &bosunv1.ManifestError{File: f, Error: err.Error()})
	}
	sort.Slice(out.ManifestErrors, func(i, j int) bool { return out.ManifestErrors[i].File < out.ManifestErrors[j].File })
	return out, nil
}

// diffActions is what a sync would do to bring the pods that run to the
// desired ones: create those with no sandbox, replace those whose sandbox
// runs another hash, remove running pods that no file asks for. A running
// pod whose file (by base name) does not load is left alone, as the loop
// keeps its last good version. The result is sorted by pod.
func diffActions(desired []*manifest.StaticPod, errs map[string]error, running []sync.PodStatus) []*bosunv1.PodAction {
	byKey := map[string]sync.PodStatus{}
	for _, p := range running {
		if p.RunningHash != "" {
			byKey[p.Key()] = p
		}
	}
	failing := map[string]bool{}
	for f := range errs {
		failing[filepath.Base(f)] = true
	}
	wanted := map[string]bool{}
	var out []*bosunv1.PodAction
	for _, sp := range desired {
		key := sp.Namespace + "/" + sp.Name
		wanted[key] = true
		r, ok := byKey[key]
		if ok && r.RunningHash == sp.Hash {
			continue
		}
		a := &bosunv1.PodAction{Action: "create", Pod: key, File: sp.File, DesiredHash: sp.Hash}
		if spec, err := json.Marshal(sp.Pod.Spec); err == nil {
			a.DesiredSpec = string(spec)
		}
		if ok {
			a.Action, a.RunningHash, a.RunningSpec = "replace", r.RunningHash, r.RunningSpec
		}
		out = append(out, a)
	}
	for key, r := range byKey {
		if wanted[key] || (r.File != "" && failing[filepath.Base(r.File)]) {
			continue
		}
		out = append(out, &bosunv1.PodAction{Action: "remove", Pod: key, File: r.File, RunningHash: r.RunningHash, RunningSpec: r.RunningSpec})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pod < out[j].Pod })
	return out
}

// withoutRollbacks drops the replacements that a rollback holds back: the
// file's version was rolled back and the last Ready version runs, so a sync
// does not replace it until the file changes.
func (s *Server) withoutRollbacks(actions []*bosunv1.PodAction) []*bosunv1.PodAction {
	if s.rollouts == nil {
		return actions
	}
	out := actions[:0]
	for _, a := range actions {
		r, ok := s.rollouts.Status(a.GetPod())
		if a.GetAction() == "replace" && ok && r.Phase == rollout.PhaseRolledBack && r.FileHash == a.GetDesiredHash() && r.LastReadyHash == a.GetRunningHash() {
			continue
		}
		out = append(out, a)
	}
	return out
}

// mayDiff decides whether a client may run diff: only root. A diff holds
// whole Pod specs (env values, commands and arguments, probe headers,
// volumes), read as root from manifests that only root may read (0600), and
// a member of --api-socket-group must not read them through bosun, nor have
// bosun read another directory for it. A caller whose uid is not known is
// refused too.
func mayDiff(uid uint32, known bool) error {
	if known && uid == 0 {
		return nil
	}
	return status.Error(codes.PermissionDenied, "bosun diff shows the pods' specs, which only root may read (the manifests are 0600): run it as root")
}
