package sync

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/credentials"
)

// fakeCredentials gives the same credentials for every image and records
// the images it was asked about.
type fakeCredentials struct {
	creds  []credentials.Credential
	images []string
}

func (f *fakeCredentials) Lookup(_ context.Context, image string) []credentials.Credential {
	f.images = append(f.images, image)
	return f.creds
}

// pullPasswords are the passwords of the PullImage calls, "anonymous" for
// none.
func pullPasswords(rt *fakeRuntime) []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []string
	for _, a := range rt.pullAuths {
		if a == nil {
			out = append(out, "anonymous")
		} else {
			out = append(out, a.Username+":"+a.Password)
		}
	}
	return out
}

func TestAPullTriesEachCredentialInTurnUntilOneWorks(t *testing.T) {
	h := newHarness(t)
	var log bytes.Buffer
	fc := &fakeCredentials{creds: []credentials.Credential{
		{Key: "reg.example.com/team", Source: "config.json", Username: "team", Password: "secret-1"},
		{Key: "*.example.com", Source: "plugin ecr", Username: "glob", Password: "secret-2"},
		{Key: "reg.example.com", Source: "config.json", Username: "host", Password: "secret-3"},
	}}
	h.loop = New(Config{Runtime: h.rt, Source: h.src, Clock: h.clock, Credentials: fc, Log: slog.New(slog.NewTextHandler(&log, nil))})
	h.rt.pullPassword = "secret-2"
	c := &corev1.Container{Name: "main", Image: "reg.example.com/team/app:v1", ImagePullPolicy: corev1.PullIfNotPresent}
	if _, err := h.loop.ensureImage(context.Background(), c, nil); err != nil {
		t.Fatalf("ensureImage: %v", err)
	}
	if got, want := strings.Join(pullPasswords(h.rt), ","), "team:secret-1,glob:secret-2"; got != want {
		t.Errorf("PullImage got the credentials %s, want %s (the first that works is the last tried)", got, want)
	}
	if len(fc.images) != 1 || fc.images[0] != c.Image {
		t.Errorf("credentials looked up for %q, want %q", fc.images, c.Image)
	}
	if !strings.Contains(log.String(), "credential.key=*.example.com") || strings.Contains(log.String(), "secret") {
		t.Errorf("log %s: want the credential's key, never a secret", log.String())
	}
}

func TestAPullWhoseCredentialsAllFailReportsEachByItsKeyAndNoSecret(t *testing.T) {
	h := newHarness(t)
	fc := &fakeCredentials{creds: []credentials.Credential{
		{Key: "reg.example.com/team", Source: "config.json", Username: "team", Password: "secret-1"},
		{Key: "reg.example.com", Source: "config.json", Username: "host", Password: "secret-3"},
	}}
	h.loop = New(Config{Runtime: h.rt, Source: h.src, Clock: h.clock, Credentials: fc})
	c := &corev1.Container{Name: "main", Image: "reg.example.com/team/app:v1", ImagePullPolicy: corev1.PullAlways}
	_, err := h.loop.ensureImage(context.Background(), c, nil)
	var ie *imageError
	if !errors.As(err, &ie) || ie.reason != reasonErrImagePull {
		t.Fatalf("err %v, want an ErrImagePull", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "config.json reg.example.com/team") || !strings.Contains(msg, "config.json reg.example.com:") || strings.Contains(msg, "secret") {
		t.Errorf("error %q: want both credentials named by key, no secret", msg)
	}
	if got, want := strings.Join(pullPasswords(h.rt), ","), "team:secret-1,host:secret-3"; got != want {
		t.Errorf("PullImage got %s, want %s: every credential, and no anonymous pull after them (as the kubelet)", got, want)
	}
}

func TestAPullWithoutCredentialsIsAnonymous(t *testing.T) {
	for _, tc := range []struct {
		name  string
		creds Credentials
	}{{"no credentials provider", nil}, {"no credential matches", &fakeCredentials{}}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.loop = New(Config{Runtime: h.rt, Source: h.src, Clock: h.clock, Credentials: tc.creds})
			c := &corev1.Container{Name: "main", Image: "reg.example.com/app:v1", ImagePullPolicy: corev1.PullAlways}
			_, _ = h.loop.ensureImage(context.Background(), c, nil)
			if got := strings.Join(pullPasswords(h.rt), ","); got != "anonymous" {
				t.Errorf("PullImage got %s, want one anonymous pull", got)
			}
		})
	}
}
