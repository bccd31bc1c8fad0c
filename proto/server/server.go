// Package server serves bosun's own gRPC API (proto/bosun/v1) on a unix
// socket, from the sync loop's status and event history. It only reads.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/rollout"
	"github.com/bosun-sh/bosun/sync"
)

// State is what the server reads from the loop.
type State interface {
	Pods() []sync.PodStatus
	Manifests() []sync.ManifestStatus
	Ready() bool
	History() *sync.History
}

// Rollouts says where each pod's latest manifest version stands.
type Rollouts interface {
	// Status returns the rollout of the pod key, false when unknown.
	Status(key string) (rollout.Status, bool)
}

// Server implements bosunv1.BosunServer.
type Server struct {
	bosunv1.UnimplementedBosunServer
	state    State
	info     *bosunv1.Info
	node     string
	rollouts Rollouts
	// mirrorPods says where a pod's mirror pod stands (nil: no API side).
	mirrorPods func(key string) string
	// watchers holds a token per following WatchEvents stream.
	watchers chan struct{}
}

// maxWatchers is how many clients may follow the events at once: each
// holds a buffer of events (up to 256, each of a few KiB), and a member of
// --api-socket-group must not grow bosun by opening streams.
const maxWatchers = 16

// Option configures a Server.
type Option func(*Server)

// WithRollouts adds each pod's rollout to what the server says of it.
func WithRollouts(r Rollouts) Option { return func(s *Server) { s.rollouts = r } }

// WithMirrorPods adds where each pod's mirror pod stands in the Kubernetes
// API (nil: bosun has no API side) to what the server says of it.
func WithMirrorPods(f func(key string) string) Option { return func(s *Server) { s.mirrorPods = f } }

// New returns a server over state; info describes the daemon.
func New(state State, info *bosunv1.Info, opts ...Option) *Server {
	s := &Server{state: state, info: info, node: info.Node, watchers: make(chan struct{}, maxWatchers)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// GetInfo describes the daemon.
func (s *Server) GetInfo(context.Context, *bosunv1.GetInfoRequest) (*bosunv1.Info, error) {
	info := s.info
	out := &bosunv1.Info{
		Version: info.Version, Node: info.Node, RuntimeEndpoint: info.RuntimeEndpoint, RuntimeName: info.RuntimeName,
		RuntimeVersion: info.RuntimeVersion, ManifestDir: info.ManifestDir, PodLogsDir: info.PodLogsDir,
		StartedUnixNano: info.StartedUnixNano, Ready: s.state.Ready(),
	}
	return out, nil
}

// ListPods returns every pod, the rejected manifests and the files not read,
// within maxReply bytes (fitPods).
func (s *Server) ListPods(context.Context, *bosunv1.ListPodsRequest) (*bosunv1.ListPodsResponse, error) {
	out := &bosunv1.ListPodsResponse{}
	for _, p := range s.state.Pods() {
		out.Pods = append(out.Pods, s.pod(p))
	}
	for _, m := range s.state.Manifests() {
		if m.Ignored != "" {
			out.IgnoredFiles = append(out.IgnoredFiles, &bosunv1.IgnoredFile{File: m.File, Reason: m.Ignored})
			continue
		}
		out.ManifestErrors = append(out.ManifestErrors, &bosunv1.ManifestError{File: m.File, Error: m.Error})
	}
	if err := fitPods(out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetPod finds one pod by "name", "name-node", "namespace/name" or
// "namespace/name-node"; the reply holds at most maxReply bytes (fitPod).
func (s *Server) GetPod(_ context.Context, req *bosunv1.GetPodRequest) (*bosunv1.Pod, error) {
	want := req.GetName()
	ns, name, hasNS := strings.Cut(want, "/")
	if !hasNS {
		name, ns = want, ""
	}
	var found []sync.PodStatus
	for _, p := range s.state.Pods() {
		if ns != "" && p.Namespace != ns {
			continue
		}
		if p.Name == name || p.Name == name+"-"+s.node {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return nil, status.Errorf(codes.NotFound, "no pod %q (bosun ps lists them)", want)
	case 1:
		p := s.pod(found[0])
		if err := fitPod(p); err != nil {
			return nil, err
		}
		return p, nil
	}
	var keys []string
	for _, p := range found {
		keys = append(keys, p.Key())
	}
	return nil, status.Errorf(codes.InvalidArgument, "%q names several pods: %s; say namespace/name", want, strings.Join(keys, ", "))
}

// WatchEvents sends kept events since the request's time, then new ones;
// at most maxWatchers clients follow at once.
func (s *Server) WatchEvents(req *bosunv1.WatchEventsRequest, stream grpc.ServerStreamingServer[bosunv1.Event]) error {
	h := s.state.History()
	var ch <-chan sync.Event
	if req.GetFollow() {
		select {
		case s.watchers <- struct{}{}:
			defer func() { <-s.watchers }()
		default:
			return status.Errorf(codes.ResourceExhausted, "%d clients already follow the events", maxWatchers)
		}
		var cancel func()
		ch, cancel = h.Subscribe()
		defer cancel()
		// The client knows from the headers that it follows.
		if err := stream.SendHeader(metadata.MD{}); err != nil {
			return err
		}
	}
	last := time.Time{}
	for _, e := range h.Since(time.Unix(0, req.GetSinceUnixNano())) {
		if err := stream.Send(eventToProto(e)); err != nil {
			return err
		}
		last = e.Time
	}
	if !req.GetFollow() {
		return nil
	}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case e := <-ch:
			if e.Time.Before(last) {
				continue // already sent from the history
			}
			if err := stream.Send(eventToProto(e)); err != nil {
				return err
			}
		}
	}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// pod is a pod's status with its rollout. A pod rolled back whose last Ready
// version runs shows RolledBack as its reason.
func (s *Server) pod(p sync.PodStatus) *bosunv1.Pod {
	out := podToProto(p)
	if s.mirrorPods != nil {
		out.MirrorPod = s.mirrorPods(p.Key())
	}
	if s.rollouts == nil {
		return out
	}
	r, ok := s.rollouts.Status(p.Key())
	if !ok {
		return out
	}
	out.Rollout = &bosunv1.Rollout{
		Phase: string(r.Phase), Reason: string(r.Reason), Message: r.Message, FileHash: r.FileHash, RunningHash: p.RunningHash,
		LastReadyHash: r.LastReadyHash, RollbackEnabled: r.RollbackEnabled, ProgressDeadlineSeconds: r.ProgressDeadline.Seconds(),
		StartedUnixNano: unixNano(r.Started), DeadlineUnixNano: unixNano(r.Deadline), SinceUnixNano: unixNano(r.Since),
	}
	if r.Phase == rollout.PhaseRolledBack && out.Reason == "Running" {
		out.Reason = string(rollout.PhaseRolledBack)
	}
	return out
}

func podToProto(p sync.PodStatus) *bosunv1.Pod {
	out := &bosunv1.Pod{
		Namespace: p.Namespace, Name: p.Name, Uid: p.UID, Hash: p.Hash, File: p.File, Phase: p.Phase, Reason: p.Reason,
		SandboxId: p.SandboxID, Attempt: p.Attempt, Ip: p.IP, HostNetwork: p.HostNetwork, CreatedUnixNano: unixNano(p.Created),
		SyncError: p.SyncError, ManifestError: p.ManifestError,
	}
	for _, c := range p.Containers {
		pc := &bosunv1.Container{
			Name: c.Name, Id: c.ID, Image: c.Image, State: c.State, Reason: c.Reason, Message: c.Message, ExitCode: c.ExitCode,
			StartedUnixNano: unixNano(c.StartedAt), FinishedUnixNano: unixNano(c.FinishedAt), RestartCount: c.RestartCount,
			BackoffUntilUnixNano: unixNano(c.BackoffUntil), LogPath: c.LogPath, Ready: c.Ready,
		}
		if t := c.LastTermination; t != nil {
			pc.LastTermination = &bosunv1.Termination{ExitCode: t.ExitCode, Reason: t.Reason, Message: t.Message,
				StartedUnixNano: unixNano(t.StartedAt), FinishedUnixNano: unixNano(t.FinishedAt)}
		}
		for _, pr := range c.Probes {
			pc.Probes = append(pc.Probes, &bosunv1.ProbeResult{Kind: pr.Kind, Success: pr.Success, Message: pr.Message,
				ConsecutiveFailures: pr.ConsecutiveFailures, LastUnixNano: unixNano(pr.Last)})
		}
		out.Containers = append(out.Containers, pc)
	}
	return out
}

// eventToProto is an event as the API sends it, its text fields cut to
// maxField bytes.
func eventToProto(e sync.Event) *bosunv1.Event {
	return cutEvent(&bosunv1.Event{TimeUnixNano: e.Time.UnixNano(), Type: string(e.Type), Pod: e.Pod, Container: e.Container, File: e.File, Message: e.Message})
}

// Listen opens the API socket. A directory it has to create is made 0700
// (0750 and owned by group when one is given); an existing directory is
// used as it is, never chmodded, and refused when group or others may
// write it, when it is owned by another user, or when a directory above it
// may be written by others (a sticky one such as /tmp excepted). A stale
// socket is replaced; the socket of a bosun that still answers is not. The
// socket is made 0600 (0660 and owned by group when one is given).
func Listen(path, group string) (net.Listener, error) {
	gid := -1
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("api socket %s: group %q: %w", path, group, err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	dir := filepath.Dir(path)
	dirMode, sockMode := os.FileMode(0o700), os.FileMode(0o600)
	if gid >= 0 {
		dirMode, sockMode = 0o750, 0o660
	}
	created, err := socketDir(dir, dirMode)
	if err != nil {
		return nil, fmt.Errorf("api socket %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("api socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("api socket %s: another bosun is serving it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("api socket %s: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("api socket %s: %w", path, err)
	}
	if err := os.Chmod(path, sockMode); err != nil {
		l.Close()
		return nil, fmt.Errorf("api socket %s: %w", path, err)
	}
	if gid >= 0 {
		err := os.Chown(path, -1, gid)
		if created {
			err = errors.Join(err, os.Chown(dir, -1, gid))
		}
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("api socket %s: %w", path, err)
		}
	}
	return l, nil
}

// socketDir makes sure dir is fit to hold the API socket and reports
// whether it created dir (with mode, whatever the umask).
func socketDir(dir string, mode os.FileMode) (bool, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false, err
	}
	created := false
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return false, err
		}
		if err := os.Mkdir(dir, mode); err != nil {
			return false, err
		}
		if err := os.Chmod(dir, mode); err != nil {
			return false, err
		}
		created = true
	}
	for d, first := dir, true; ; d, first = filepath.Dir(d), false {
		fi, err := os.Lstat(d)
		if err != nil {
			return false, err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		switch {
		case !fi.IsDir():
			return false, fmt.Errorf("directory %s: not a directory", d)
		case !ok:
			return false, fmt.Errorf("directory %s: no owner information", d)
		case st.Uid != 0 && int(st.Uid) != os.Geteuid():
			return false, fmt.Errorf("directory %s: owned by uid %d, not by root: another user could replace the socket", d, st.Uid)
		case first && fi.Mode().Perm()&0o022 != 0:
			return false, fmt.Errorf("directory %s: mode %v lets group or others write there: use a directory only root can write, or a new one bosun creates", d, fi.Mode().Perm())
		case fi.Mode().Perm()&0o022 != 0 && fi.Mode()&os.ModeSticky == 0:
			return false, fmt.Errorf("directory %s above the socket: mode %v lets group or others replace what is below", d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return created, nil
		}
	}
}

// Serve serves the API on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, s *Server) error {
	g := grpc.NewServer()
	bosunv1.RegisterBosunServer(g, s)
	go func() {
		<-ctx.Done()
		g.Stop()
	}()
	if err := g.Serve(credListener{l}); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("api: %w", err)
	}
	return nil
}
