package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
	"github.com/bosun-sh/bosun/proto/server"
	"github.com/bosun-sh/bosun/sync"
)

// serveAt serves st on a real unix socket at sock.
func serveAt(t *testing.T, sock string, st *fakeState) {
	t.Helper()
	l, err := server.Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = server.Serve(ctx, l, server.New(st, &bosunv1.Info{Node: "cp1", Version: "test"})) }()
}

func TestTheAPISocketMayBeARelativePathOrHoldURLCharacters(t *testing.T) {
	dir := t.TempDir()
	st := &fakeState{history: sync.NewHistory(), pods: []sync.PodStatus{{Namespace: "kube-system", Name: "etcd-cp1", Phase: "Running", Reason: "Running"}}}
	// A path that a URL parser reads otherwise: a percent sign, a question
	// mark, a hash and a space.
	odd := filepath.Join("run", "100% b?x#y z")
	serveAt(t, filepath.Join(dir, "run", "b.sock"), st)
	serveAt(t, filepath.Join(dir, odd, "b.sock"), st)
	t.Chdir(dir)
	for _, sock := range []string{"run/b.sock", "./run/b.sock", filepath.Join(odd, "b.sock"), filepath.Join(dir, odd, "b.sock")} {
		out, errOut, err := runCLI("ps", "--api-socket", sock)
		if err != nil || !strings.Contains(out, "etcd-cp1") {
			t.Errorf("ps --api-socket %q: %v %s\n%s", sock, err, errOut, out)
		}
	}
}
