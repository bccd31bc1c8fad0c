package credentials

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func write(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSearchDirsFollowTheKubeletsOrder(t *testing.T) {
	js, cfg := SearchDirs("/var/lib/bosun", "/root")
	if want := []string{"/var/lib/bosun", "/var/lib/kubelet", ".", "/root/.docker", "/.docker"}; !slices.Equal(js, want) {
		t.Errorf("config.json dirs %q, want %q", js, want)
	}
	if want := []string{"/var/lib/bosun", "/var/lib/kubelet", ".", "/root", "/"}; !slices.Equal(cfg, want) {
		t.Errorf(".dockercfg dirs %q, want %q", cfg, want)
	}
	if js, _ := SearchDirs("/var/lib/kubelet/", ""); !slices.Equal(js, []string{"/var/lib/kubelet/", ".", "/.docker"}) {
		t.Errorf("with the kubelet's root dir: %q", js)
	}
}

func TestReadDockerConfigTakesTheFirstValidConfigJSONBeforeAnyDockercfg(t *testing.T) {
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("user:pa:ss"))
	write(t, dir+"/a/config.json", `{"auths": {"reg.io": {"auth": "`+auth+`"}}}`)
	write(t, dir+"/b/config.json", `{"auths": {"other.io": {"username": "u", "password": "p"}}}`)
	write(t, dir+"/a/.dockercfg", `{"cfg.io": {"username": "u", "password": "p"}}`)
	write(t, dir+"/bad/config.json", `{"auths": `)

	file, entries, err := ReadDockerConfig([]string{dir + "/none", dir + "/bad", dir + "/a", dir + "/b"}, []string{dir + "/a"})
	if file != dir+"/a/config.json" || len(entries) != 1 || entries[0] != (Entry{Registry: "reg.io", Username: "user", Password: "pa:ss"}) {
		t.Errorf("read %s %v, want a/config.json's reg.io with its auth decoded", file, entries)
	}
	if err == nil || !strings.Contains(err.Error(), dir+"/bad/config.json") {
		t.Errorf("err %v, want the invalid file named", err)
	}

	file, entries, _ = ReadDockerConfig([]string{dir + "/none"}, []string{dir + "/none", dir + "/a"})
	if file != dir+"/a/.dockercfg" || len(entries) != 1 || entries[0].Registry != "cfg.io" {
		t.Errorf("legacy: read %s %v, want a/.dockercfg", file, entries)
	}
	if file, entries, err := ReadDockerConfig([]string{dir + "/none"}, nil); file != "" || entries != nil || err != nil {
		t.Errorf("no file: %s %v %v, want nothing and no error", file, entries, err)
	}
}

func TestReadDockerConfigRefusesAFileLargerThanItsBoundAndABadAuthWithoutPrintingIt(t *testing.T) {
	dir := t.TempDir()
	write(t, dir+"/big/config.json", `{"auths": {}, "x": "`+strings.Repeat("a", maxConfigSize)+`"}`)
	write(t, dir+"/auth/config.json", `{"auths": {"reg.io": {"auth": "c2VjcmV0LXdpdGhvdXQtY29sb24="}}}`)
	for _, d := range []string{"big", "auth"} {
		file, _, err := ReadDockerConfig([]string{dir + "/" + d}, nil)
		if file != "" || err == nil {
			t.Errorf("%s: read %q, err %v; want an error", d, file, err)
		} else if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "c2Vj") {
			t.Errorf("%s: error prints the secret: %v", d, err)
		}
	}
}

func TestProviderRereadsTheDockerConfigOnlyAfterFiveMinutes(t *testing.T) {
	root := t.TempDir()
	clk := clocktesting.NewFakePassiveClock(time.Now())
	p, err := New(Config{RootDir: root, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	p.configJSON, p.dockercfg = []string{root}, nil // not the machine's own files
	if got := p.Lookup(context.Background(), "reg.io/app"); len(got) != 0 {
		t.Fatalf("no config: %v", got)
	}
	write(t, root+"/config.json", `{"auths": {"reg.io": {"username": "u", "password": "p"}}}`)
	clk.SetTime(clk.Now().Add(dockerConfigLifetime - time.Second))
	if got := p.Lookup(context.Background(), "reg.io/app"); len(got) != 0 {
		t.Errorf("within 5 minutes: %v, want the config read before", got)
	}
	clk.SetTime(clk.Now().Add(time.Second))
	got := p.Lookup(context.Background(), "reg.io/app")
	if len(got) != 1 || got[0].Username != "u" || got[0].Source != root+"/config.json" {
		t.Errorf("after 5 minutes: %v, want reg.io's credential", got)
	}
}
