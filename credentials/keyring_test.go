package credentials

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestRepositoryIsTheNameTheKubeletLooksCredentialsUpBy(t *testing.T) {
	for _, tc := range []struct{ name, image, want string }{
		{"a one-part name is Docker Hub's library", "busybox", "docker.io/library/busybox"},
		{"a tag is dropped", "busybox:1.36", "docker.io/library/busybox"},
		{"a digest is dropped", "busybox@sha256:abcd", "docker.io/library/busybox"},
		{"a two-part name without a registry is on Docker Hub", "team/app:v1", "docker.io/team/app"},
		{"index.docker.io is written docker.io", "index.docker.io/library/busybox", "docker.io/library/busybox"},
		{"a registry with a dot keeps its path", "registry.k8s.io/etcd:3.5.0-0", "registry.k8s.io/etcd"},
		{"a registry's port is not a tag", "reg.example.com:5000/team/app:v2", "reg.example.com:5000/team/app"},
		{"a registry's port without a tag stays", "reg.example.com:5000/app", "reg.example.com:5000/app"},
		{"localhost is a registry", "localhost/app", "localhost/app"},
		{"a tag and a digest are both dropped", "quay.io/a/b:1@sha256:ff", "quay.io/a/b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Repository(tc.image); got != tc.want {
				t.Errorf("Repository(%q) = %q, want %q", tc.image, got, tc.want)
			}
		})
	}
}

func TestMatchFollowsTheKubeletsGlobRules(t *testing.T) {
	for _, tc := range []struct {
		glob, target string
		want         bool
	}{
		{"*.kubernetes.io", "prefix.kubernetes.io", true},
		{"prefix.*.io", "prefix.kubernetes.io", true},
		{"prefix.kubernetes.*", "prefix.kubernetes.io", true},
		{"*-good.kubernetes.io", "prefix-good.kubernetes.io", true},
		{"*.kubernetes.io/blah", "prefix.kubernetes.io/blah", true},
		{"prefix.*.io/foo", "prefix.kubernetes.io/foo/bar", true},
		{"*.kubernetes.io:1111/blah", "prefix.kubernetes.io:1111/blah", true},
		{"prefix.*.io:1111/foo", "prefix.kubernetes.io:1111/foo/bar", true},
		{"*.*.*.kubernetes.io", "a.b.c.kubernetes.io", true},
		{"reg.io/team", "reg.io/teamwork/app", true}, // a string prefix, as the kubelet's
		{"*.kubernetes.io", "kubernetes.io", false},
		{"*.*.kubernetes.io", "prefix.kubernetes.io", false},
		{"*.*.kubernetes.io", "kubernetes.io", false},
		{"*kubernetes.io", "a.kubernetes.io", false},
		{"*kubernetes.io", "kubernetes.io", true},
		{"kubernetes.io", "kubernetes.com", false},
		{"k*.io", "quay.io", false},
		{"*.kubernetes.io:1234/blah", "prefix.kubernetes.io:1111/blah", false},
		{"prefix.*.io/foo", "prefix.kubernetes.io:1111/foo/bar", false},
		{"reg.io:5000", "reg.io/app", false},
		{"reg.io/team/a", "reg.io/team/b", false},
	} {
		t.Run(fmt.Sprintf("%s matches %s: %v", tc.glob, tc.target, tc.want), func(t *testing.T) {
			if got := Match(tc.glob, tc.target); got != tc.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tc.glob, tc.target, got, tc.want)
			}
		})
	}
}

func keys(creds []Credential) []string {
	var out []string
	for _, c := range creds {
		out = append(out, c.Key+"="+c.Username)
	}
	return out
}

func TestKeyringLookupReturnsEveryMatchLongestPathFirstThenDockerHubsFallback(t *testing.T) {
	k, err := NewKeyring("config.json", []Entry{
		{Registry: "https://index.docker.io/v1/", Username: "hub"},
		{Registry: "reg.example.com", Username: "host"},
		{Registry: "https://reg.example.com/v2/team", Username: "team"},
		{Registry: "reg.example.com/team/app", Username: "app"},
		{Registry: "*.example.com", Username: "wild"},
		{Registry: "http://reg.example.com:5000", Username: "port"},
		{Registry: "docker.io/mine", Username: "mine"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, image string
		want        []string
	}{
		{"every matching key is tried, the longest path first, the glob last", "reg.example.com/team/app:v1",
			[]string{"reg.example.com/team/app=app", "reg.example.com/team=team", "reg.example.com=host", "*.example.com=wild"}},
		{"a path that does not match leaves the host's", "reg.example.com/other/app", []string{"reg.example.com=host", "*.example.com=wild"}},
		{"the port must match", "reg.example.com:5000/app", []string{"reg.example.com:5000=port"}},
		{"a glob matches one label", "other.example.com/app", []string{"*.example.com=wild"}},
		{"a glob does not match two labels", "a.b.example.com/app", nil},
		{"a Docker Hub image without a key of its own gets index.docker.io's", "busybox", []string{"index.docker.io=hub"}},
		{"a Docker Hub image with a key of its own gets only that", "mine/app", []string{"docker.io/mine=mine"}},
		{"another registry never gets Docker Hub's", "quay.io/app", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keys(k.Lookup(Repository(tc.image))); !slices.Equal(got, tc.want) {
				t.Errorf("Lookup(%q) = %q, want %q", tc.image, got, tc.want)
			}
		})
	}
}

func TestKeyringKeepsEveryCredentialOfOneKeyAndNamesTheBadOnes(t *testing.T) {
	k, err := NewKeyring("f", []Entry{
		{Registry: "https://reg.io", Username: "b"},
		{Registry: "reg.io", Username: "a"},
		{Registry: "reg.io:bad:port/%zz", Username: "c"},
	})
	if err == nil || !strings.Contains(err.Error(), `"reg.io:bad:port/%zz"`) {
		t.Errorf("err %v, want the bad registry named", err)
	}
	if got, want := keys(k.Lookup("reg.io/app")), []string{"reg.io=b", "reg.io=a"}; !slices.Equal(got, want) {
		t.Errorf("Lookup = %q, want %q", got, want)
	}
}

func TestACredentialNeverPrintsItsSecrets(t *testing.T) {
	c := Credential{Key: "reg.io", Source: "config.json", Username: "user-secret", Password: "pass-secret"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("pull", "credential", c)
	slog.New(slog.NewJSONHandler(&b, nil)).Info("pull", "credential", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), b.String(), fmt.Sprint([]Credential{c})} {
		if strings.Contains(s, "secret") {
			t.Errorf("printed a secret: %s", s)
		}
		if !strings.Contains(s, "reg.io") {
			t.Errorf("printed no key: %s", s)
		}
	}
}
