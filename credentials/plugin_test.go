package credentials

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// pluginScript is a credential provider plugin: it keeps its request, its
// arguments and a line per run in $DIR, and answers $DIR/response.
const pluginScript = `#!/bin/sh
cat > "$DIR/request"
echo "$@" > "$DIR/args"
echo run >> "$DIR/runs"
cat "$DIR/response"
exit "$(cat "$DIR/exit" 2>/dev/null || echo 0)"
`

// pluginEnv is a plugin in its own dirs, with a clock.
type pluginEnv struct {
	dir   string
	clock *clocktesting.FakePassiveClock
	p     *Provider
	log   *bytes.Buffer
}

// newPluginEnv writes the plugin "fake" and a config for it whose
// matchImages and defaultCacheDuration are given, and makes a Provider.
func newPluginEnv(t *testing.T, matchImages, defaultCacheDuration string) *pluginEnv {
	t.Helper()
	e := &pluginEnv{dir: t.TempDir(), clock: clocktesting.NewFakePassiveClock(time.Now()), log: &bytes.Buffer{}}
	write(t, e.dir+"/bin/fake", pluginScript)
	if err := os.Chmod(e.dir+"/bin/fake", 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, e.dir+"/config.yaml", fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
- name: fake
  apiVersion: credentialprovider.kubelet.k8s.io/v1
  matchImages: [%s]
  defaultCacheDuration: %s
  args: [get-credentials]
  env:
  - name: DIR
    value: %s
`, matchImages, defaultCacheDuration, e.dir))
	p, err := New(Config{RootDir: e.dir, PluginConfig: e.dir + "/config.yaml", PluginBinDir: e.dir + "/bin", Clock: e.clock,
		Log: slog.New(slog.NewTextHandler(e.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	p.configJSON, p.dockercfg = nil, nil // not the machine's own files
	e.p = p
	return e
}

func (e *pluginEnv) respond(t *testing.T, response string) {
	t.Helper()
	write(t, e.dir+"/response", response)
}

func (e *pluginEnv) runs(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(e.dir + "/runs")
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "run")
}

const response = `{"apiVersion": "credentialprovider.kubelet.k8s.io/v1", "kind": "CredentialProviderResponse",
	"cacheKeyType": "%s", %s "auth": {"*.example.com": {"username": "glob", "password": "secret-1"},
	"reg.example.com/team": {"username": "team", "password": "secret-2"}}}`

func TestAPluginGetsTheRequestOnStdinAndItsAnswerIsMatchedAsAKeyring(t *testing.T) {
	e := newPluginEnv(t, `"*.example.com"`, "1m")
	e.respond(t, fmt.Sprintf(response, "Image", ""))
	got := e.p.Lookup(context.Background(), "reg.example.com/team/app:v1")
	if want := []string{"reg.example.com/team=team", "*.example.com=glob"}; !slices.Equal(keys(got), want) {
		t.Errorf("credentials %q, want %q", keys(got), want)
	}
	if len(got) > 0 && (got[0].Source != "plugin fake" || got[0].Password != "secret-2") {
		t.Errorf("credential %+v from %s, want plugin fake's", got[0], got[0].Source)
	}
	req, _ := os.ReadFile(e.dir + "/request")
	if want := `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"reg.example.com/team/app"}`; string(req) != want {
		t.Errorf("request %s, want %s", req, want)
	}
	if args, _ := os.ReadFile(e.dir + "/args"); string(args) != "get-credentials\n" {
		t.Errorf("args %q, want the config's", args)
	}
	if strings.Contains(e.log.String(), "secret") {
		t.Errorf("log has a secret: %s", e.log)
	}
}

func TestAPluginIsNotRunForAnImageItsMatchImagesDoNotMatch(t *testing.T) {
	e := newPluginEnv(t, `"*.example.com"`, "1m")
	e.respond(t, fmt.Sprintf(response, "Image", ""))
	if got := e.p.Lookup(context.Background(), "quay.io/app"); len(got) != 0 || e.runs(t) != 0 {
		t.Errorf("credentials %v after %d runs, want none and no run", got, e.runs(t))
	}
}

func TestAPluginsAnswerIsCachedByItsCacheKeyTypeForItsDuration(t *testing.T) {
	for _, tc := range []struct {
		name, keyType, duration, defaultDuration string
		// second is the image looked up after the first, within the
		// duration; runs are the plugin's runs after it, then after the
		// duration.
		second            string
		runs, runsExpired int
	}{
		{"Image: another tag of the image is cached", "Image", "", "1m", "reg.example.com/a:v2", 1, 2},
		{"Image: another image of the registry is not", "Image", "", "1m", "reg.example.com/b", 2, 3},
		{"Registry: another image of the registry is cached", "Registry", "", "1m", "reg.example.com/b", 1, 2},
		{"Global: an image of another registry is cached", "Global", `"cacheDuration": "1m",`, "0s", "x.example.com/b", 1, 2},
		{"a cacheDuration of 0 is never cached", "Global", `"cacheDuration": "0s",`, "1m", "reg.example.com/a", 2, 3},
		{"no cacheDuration and a defaultCacheDuration of 0 is never cached", "Global", "", "0s", "reg.example.com/a", 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPluginEnv(t, `"*.example.com"`, tc.defaultDuration)
			e.respond(t, fmt.Sprintf(response, tc.keyType, tc.duration))
			ctx := context.Background()
			if got := e.p.Lookup(ctx, "reg.example.com/a:v1"); len(got) != 1 {
				t.Fatalf("first lookup: %v", got)
			}
			if got := e.p.Lookup(ctx, tc.second); len(got) == 0 {
				t.Errorf("second lookup: no credentials")
			}
			if n := e.runs(t); n != tc.runs {
				t.Errorf("plugin ran %d times, want %d", n, tc.runs)
			}
			e.clock.SetTime(e.clock.Now().Add(time.Minute + time.Second))
			e.p.Lookup(ctx, tc.second)
			if n := e.runs(t); n != tc.runsExpired {
				t.Errorf("after the duration: plugin ran %d times, want %d", n, tc.runsExpired)
			}
		})
	}
}

func TestAPluginThatFailsGivesNoCredentialsAndNeverItsOutputToTheLog(t *testing.T) {
	for _, tc := range []struct{ name, response, exit, wantLog string }{
		{"an answer larger than 1 MiB", `{"x": "secret` + strings.Repeat("a", maxPluginOutput) + `"}`, "0", "larger than 1048576 bytes"},
		{"another apiVersion", `{"apiVersion": "credentialprovider.kubelet.k8s.io/v1beta1", "kind": "CredentialProviderResponse", "cacheKeyType": "Image", "auth": {"*.example.com": {"username": "u", "password": "secret"}}}`, "0", `apiVersion \"credentialprovider.kubelet.k8s.io/v1beta1\"`},
		{"an unknown field", `{"apiVersion": "credentialprovider.kubelet.k8s.io/v1", "kind": "CredentialProviderResponse", "cacheKeyType": "Image", "token": "secret"}`, "0", "not a CredentialProviderResponse"},
		{"no cacheKeyType", `{"apiVersion": "credentialprovider.kubelet.k8s.io/v1", "kind": "CredentialProviderResponse", "auth": {"*.example.com": {"username": "u", "password": "secret"}}}`, "0", `cacheKeyType \"\"`},
		{"a plugin that exits 1", fmt.Sprintf(response, "Image", ""), "1", "exit status 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPluginEnv(t, `"*.example.com"`, "1m")
			e.respond(t, tc.response)
			write(t, e.dir+"/exit", tc.exit)
			if got := e.p.Lookup(context.Background(), "reg.example.com/a"); len(got) != 0 {
				t.Errorf("credentials %v, want none", got)
			}
			if log := e.log.String(); !strings.Contains(log, tc.wantLog) || strings.Contains(log, "secret") || len(log) > 4096 {
				t.Errorf("log %.2000q, want %q and no secret, bounded", log, tc.wantLog)
			}
		})
	}
}

func TestAPluginConfigIsCheckedAsTheKubeletChecksIt(t *testing.T) {
	dir := t.TempDir()
	write(t, dir+"/bin/fake", pluginScript)
	if err := os.Chmod(dir+"/bin/fake", 0o755); err != nil {
		t.Fatal(err)
	}
	provider := func(fields string) string {
		return "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n- " + fields + "\n"
	}
	const ok = "name: fake\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n  matchImages: [reg.io]\n  defaultCacheDuration: 1m"
	for _, tc := range []struct{ name, config, binDir, wantErr string }{
		{"a valid config", provider(ok), "bin", ""},
		{"a missing bin dir", provider(ok), "none", "bin dir"},
		{"a bin dir without a config", "", "bin", "no credential provider config"},
		{"a plugin missing from the bin dir", provider(strings.Replace(ok, "fake", "other", 1)), "bin", "credential provider other"},
		{"no defaultCacheDuration", provider(strings.Replace(ok, "\n  defaultCacheDuration: 1m", "", 1)), "bin", "defaultCacheDuration: required"},
		{"no matchImages", provider(strings.Replace(ok, "[reg.io]", "[]", 1)), "bin", "matchImages: at least one"},
		{"an unknown exec apiVersion", provider(strings.Replace(ok, "/v1", "/v2", 1)), "bin", "apiVersion"},
		{"a name with a slash", provider(strings.Replace(ok, "fake", "../fake", 1)), "bin", "name"},
		{"an unknown field", provider(ok + "\n  unknown: 1"), "bin", "unknown"},
		{"another kind", strings.Replace(provider(ok), "CredentialProviderConfig", "KubeletConfiguration", 1), "bin", "kind"},
		{"no providers", "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders: []\n", "bin", "at least one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := ""
			if tc.config != "" {
				config = dir + "/config.yaml"
				write(t, config, tc.config)
			}
			_, err := New(Config{RootDir: dir, PluginConfig: config, PluginBinDir: dir + "/" + tc.binDir})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestAPluginConfigDirectoryMergesItsFilesAndRefusesADuplicateName(t *testing.T) {
	dir := t.TempDir()
	write(t, dir+"/bin/a", pluginScript)
	write(t, dir+"/bin/b", pluginScript)
	for _, f := range []string{"a", "b"} {
		if err := os.Chmod(dir+"/bin/"+f, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := func(name string) string {
		return "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n- name: " + name +
			"\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n  matchImages: [reg.io]\n  defaultCacheDuration: 1m\n"
	}
	write(t, dir+"/conf/1.yaml", cfg("a"))
	write(t, dir+"/conf/2.json", `{"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig", "providers": [{"name": "b", "apiVersion": "credentialprovider.kubelet.k8s.io/v1", "matchImages": ["reg.io"], "defaultCacheDuration": "1m"}]}`)
	write(t, dir+"/conf/ignored.txt", "not a config")
	p, err := New(Config{RootDir: dir, PluginConfig: dir + "/conf", PluginBinDir: dir + "/bin"})
	if err != nil || len(p.plugins) != 2 || p.plugins[0].spec.Name != "a" || p.plugins[1].spec.Name != "b" {
		t.Fatalf("plugins %v, err %v; want a then b", p, err)
	}
	write(t, dir+"/conf/3.yml", cfg("a"))
	if _, err := New(Config{RootDir: dir, PluginConfig: dir + "/conf", PluginBinDir: dir + "/bin"}); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("err %v, want the duplicate name", err)
	}
}
