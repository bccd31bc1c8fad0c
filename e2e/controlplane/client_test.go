package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-sh/bosun/e2e/internal/apiprober"
)

// apiClient talks HTTPS to kube-apiserver as kubeadm's admin.conf says,
// from inside the test's network namespace.
type apiClient struct {
	server string
	http   *http.Client
}

func newAPIClient(path string) (*apiClient, error) {
	server, cfg, err := apiprober.LoadKubeconfig(path)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		TLSClientConfig: cfg,
		DialContext:     dialInNetns,
		// A fresh connection per request: a request must not pass because a
		// connection to an apiserver that is going away was still open.
		DisableKeepAlives: true,
	}
	return &apiClient{server: server, http: &http.Client{Transport: tr, Timeout: 2 * time.Second}}, nil
}

// dialInNetns dials from the test's network namespace: the socket is made on
// an OS thread that joined the namespace, and the thread returns to the
// test's own namespace before it runs anything else. The thread must not
// end: bosun's Pdeathsig fires when the thread that started it ends.
func dialInNetns(ctx context.Context, network, addr string) (net.Conn, error) {
	goruntime.LockOSThread()
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		goruntime.UnlockOSThread()
		return nil, err
	}
	defer own.Close()
	ns, err := os.Open(netnsPath())
	if err != nil {
		goruntime.UnlockOSThread()
		return nil, err
	}
	defer ns.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		goruntime.UnlockOSThread()
		return nil, fmt.Errorf("setns %s: %w", netnsPath(), err)
	}
	var d net.Dialer
	c, dialErr := d.DialContext(ctx, network, addr)
	if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
		// Nothing else may run on a thread in the wrong namespace.
		panic(fmt.Sprintf("setns back from %s: %v", netnsPath(), err))
	}
	goruntime.UnlockOSThread()
	return c, dialErr
}

// do sends a request and returns the body of a 2xx answer.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

const cmPath = "/api/v1/namespaces/default/configmaps"

func (c *apiClient) putConfigMap(ctx context.Context, name string, data map[string]string) error {
	cm := corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
	b, err := json.Marshal(cm)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPost, cmPath, b)
	return err
}

func (c *apiClient) getConfigMap(ctx context.Context, name string) (map[string]string, error) {
	b, err := c.do(ctx, http.MethodGet, cmPath+"/"+name, nil)
	if err != nil {
		return nil, err
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal(b, &cm); err != nil {
		return nil, fmt.Errorf("configmap %s: %w", name, err)
	}
	return cm.Data, nil
}

// sample is one round of the prober: /readyz and a read of the object.
type sample struct {
	at               time.Time
	readyErr, objErr error
}

// prober reads /readyz and a ConfigMap every 100 ms until stopped.
type prober struct {
	mu      sync.Mutex
	samples []sample
	stop    chan struct{}
	done    chan struct{}
}

func (c *apiClient) startProber(object string, want map[string]string) *prober {
	p := &prober{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			s := c.sample(object, want)
			if s.timedOut() {
				// A loaded machine can keep a server that works from
				// answering within the second: one more try counts if it
				// passes. One that does not work fails it too, and the
				// first try is kept, with its time.
				if r := c.sample(object, want); firstErr(r.readyErr, r.objErr) == nil {
					s = r
				}
			}
			p.mu.Lock()
			p.samples = append(p.samples, s)
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// sample asks for /readyz and for object within one second.
func (c *apiClient) sample(object string, want map[string]string) sample {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s := sample{at: time.Now()}
	_, s.readyErr = c.do(ctx, http.MethodGet, "/readyz", nil)
	got, err := c.getConfigMap(ctx, object)
	if err == nil && fmt.Sprint(got) != fmt.Sprint(want) {
		err = fmt.Errorf("configmap %s: got %v, want %v", object, got, want)
	}
	s.objErr = err
	return s
}

// timedOut reports whether a request of s failed for lack of an answer in
// time; a refused connection or an error status is an answer.
func (s sample) timedOut() bool {
	for _, err := range []error{s.readyErr, s.objErr} {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return true
		}
	}
	return false
}

// finish stops the prober and returns its samples.
func (p *prober) finish() []sample {
	close(p.stop)
	<-p.done
	return p.samples
}

// failures counts the failed rounds of samples and returns the first error.
func failures(samples []sample) (int, error) {
	n := 0
	var first error
	for _, s := range samples {
		if err := firstErr(s.readyErr, s.objErr); err != nil {
			n++
			if first == nil {
				first = err
			}
		}
	}
	return n, first
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// downtime is the time from the first failed round to the first good
// round after the last failed one; zero when nothing failed.
func downtime(samples []sample) (time.Duration, time.Time, time.Time) {
	var firstFail, lastFail time.Time
	for _, s := range samples {
		if s.readyErr != nil || s.objErr != nil {
			if firstFail.IsZero() {
				firstFail = s.at
			}
			lastFail = s.at
		}
	}
	if firstFail.IsZero() {
		return 0, firstFail, firstFail
	}
	for _, s := range samples {
		if s.at.After(lastFail) {
			return s.at.Sub(firstFail), firstFail, s.at
		}
	}
	return time.Since(firstFail), firstFail, time.Time{}
}
