package server

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode() & (os.ModePerm | os.ModeSticky)
}

func TestListenCreatesAPrivateDirectory(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "run", "bosun", "bosun.sock")
	l, err := Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if m := mode(t, filepath.Dir(sock)); m != 0o700 {
		t.Errorf("directory bosun created: mode %v, want 0700", m)
	}
	if m := mode(t, sock); m&os.ModePerm != 0o600 {
		t.Errorf("socket mode %v, want 0600", m)
	}
}

func TestListenLeavesAnExistingDirectoryAlone(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(filepath.Join(dir, "bosun.sock"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if m := mode(t, dir); m != 0o755 {
		t.Errorf("existing directory: mode %v after Listen, want 0755 untouched", m)
	}
}

func TestListenRefusesADirectoryOthersMayWrite(t *testing.T) {
	for _, m := range []os.FileMode{0o777, 0o777 | os.ModeSticky, 0o770, 0o757} {
		dir := filepath.Join(t.TempDir(), "shared")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, m); err != nil {
			t.Fatal(err)
		}
		sock := filepath.Join(dir, "bosun.sock")
		l, err := Listen(sock, "")
		if err == nil {
			l.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "lets group or others write there") || !strings.Contains(err.Error(), dir) {
			t.Errorf("directory of mode %v: %v, want a refusal naming it", m, err)
		}
		if got := mode(t, dir); got != m {
			t.Errorf("directory of mode %v was changed to %v", m, got)
		}
		if _, err := os.Lstat(sock); !os.IsNotExist(err) {
			t.Errorf("directory of mode %v: a socket was made (%v)", m, err)
		}
	}
}

func TestListenRefusesBelowADirectoryOthersMayReplace(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(filepath.Join(open, "bosun", "bosun.sock"), "")
	if err == nil || !strings.Contains(err.Error(), "directory "+open+" above the socket") {
		t.Errorf("below a world-writable directory: %v", err)
	}
	// A sticky one, such as /tmp, cannot have others' entries replaced.
	if err := os.Chmod(open, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(filepath.Join(open, "bosun2", "bosun.sock"), "")
	if err != nil {
		t.Fatalf("below a sticky directory: %v", err)
	}
	l.Close()
}

func TestListenReplacesAStaleSocketOnly(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "bosun.sock")
	l, err := Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(sock, ""); err == nil || !strings.Contains(err.Error(), "another bosun is serving it") {
		t.Errorf("live socket: %v", err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // as bosun killed: the file stays
	l, err = Listen(sock, "")
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	l.Close()
}
