package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/clock"

	"github.com/bosun-sh/bosun/runtime"
)

// KubeVersion is the Kubernetes minor version whose API bosun links
// (k8s.io/api v0.37 is Kubernetes 1.37): probes and hooks name it in their
// User-Agent as a kubelet of that version does.
const KubeVersion = "1.37"

// The User-Agent of HTTP probes and of HTTP lifecycle hooks, as the
// kubelet's ("kube-probe/1.37", "kube-lifecycle/1.37"); a User-Agent header
// in the manifest replaces it.
const (
	probeUserAgent = "kube-probe/" + KubeVersion
	hookUserAgent  = "kube-lifecycle/" + KubeVersion
)

// ErrNotRun marks a probe or hook that could not be run at all (the runtime
// did not run its command, its port name does not resolve), as opposed to
// one that ran and failed: the prober retries such a probe and then throws
// its result away, as the kubelet's prober does, instead of counting a
// failure.
var ErrNotRun = errors.New("could not be run")

// ErrTCPSocketHook is why a tcpSocket lifecycle hook fails: the API accepts
// the field only for compatibility and the kubelet fails the hook when it
// runs it, without connecting.
var ErrTCPSocketHook = errors.New("tcpSocket lifecycle hooks are not supported (the kubelet fails them too)")

// Execer is the one runtime call probes and hooks need.
type Execer interface {
	ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (int32, []byte, error)
}

// Target is where a probe or hook acts: the container (for exec) and the
// host of the pod's network with the container's named ports.
type Target struct {
	ContainerID string
	Host        string
	Ports       []corev1.ContainerPort
}

// Runner runs probe and hook actions.
type Runner struct {
	Exec  Execer
	Clock clock.Clock
}

// Probe runs one probe action; a warning comes with a success that deserves
// a word (an HTTP redirect to another host, not followed). The warning and
// the error's message hold at most MaxMessage bytes, and quote what the
// container answered escaped.
func (r Runner) Probe(ctx context.Context, h *corev1.ProbeHandler, t Target, timeout time.Duration) (warning string, err error) {
	switch {
	case h.Exec != nil:
		err = r.ExecCheck(ctx, t.ContainerID, h.Exec.Command, timeout)
	case h.HTTPGet != nil:
		warning, err = HTTPCheck(ctx, h.HTTPGet, t, timeout)
	case h.TCPSocket != nil:
		err = TCPCheck(ctx, h.TCPSocket, t, timeout)
	case h.GRPC != nil:
		err = GRPCCheck(ctx, h.GRPC, t, timeout)
	default:
		err = fmt.Errorf("%w: probe has no action", ErrNotRun)
	}
	return Truncate(warning, MaxMessage), bound(err)
}

// Hook runs a lifecycle hook within timeout and returns why it failed, as
// the kubelet's handler runner does: an exec hook fails when its command
// exits non-zero; an httpGet hook fails only when no answer came (whatever
// its status code), and retries over HTTP, with a warning, an HTTPS hook
// that got an HTTP answer; a tcpSocket hook fails with ErrTCPSocketHook
// without connecting. A sleep hook sleeps for its seconds or timeout,
// whichever is shorter, and ends early when ctx ends, without an error. The
// warning and the error's message hold at most MaxMessage bytes.
func (r Runner) Hook(ctx context.Context, h *corev1.LifecycleHandler, t Target, timeout time.Duration) (warning string, err error) {
	switch {
	case h.Exec != nil:
		return r.Probe(ctx, &corev1.ProbeHandler{Exec: h.Exec}, t, timeout)
	case h.HTTPGet != nil:
		warning, err = HTTPHook(ctx, h.HTTPGet, t, timeout)
		return Truncate(warning, MaxMessage), bound(err)
	case h.TCPSocket != nil:
		return "", ErrTCPSocketHook
	case h.Sleep == nil:
		return "", fmt.Errorf("%w: hook has no action", ErrNotRun)
	}
	clk := r.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	select {
	case <-clk.After(sleepFor(h.Sleep.Seconds, timeout)):
	case <-ctx.Done():
	}
	return "", nil
}

// sleepFor is how long a sleep hook of seconds sleeps within timeout: the
// shorter of both, never negative, without overflowing for huge seconds.
func sleepFor(seconds int64, timeout time.Duration) time.Duration {
	switch {
	case seconds <= 0 || timeout <= 0:
		return 0
	case seconds >= int64(timeout/time.Second):
		return timeout
	}
	return time.Duration(seconds) * time.Second
}

// ExecCheck runs cmd in the container; exit code 0 is success. A failure
// quotes the first bytes of the command's output, and not the command,
// which may carry what only the manifest's readers (root) may see. A
// command that timed out (runtime.ErrTimeout) failed; any other error of
// the runtime wraps ErrNotRun, as the kubelet tells a probe that errored
// from one that failed.
func (r Runner) ExecCheck(ctx context.Context, id string, cmd []string, timeout time.Duration) error {
	code, out, err := r.Exec.ExecSync(ctx, id, cmd, timeout)
	switch {
	case errors.Is(err, runtime.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("exec timed out after %s: %w", timeout, err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrNotRun, err)
	}
	if code != 0 {
		return fmt.Errorf("exec exited with %d: %s", code, quote(out))
	}
	return nil
}

// resolvePort turns a port number or a container port name into a number;
// a name that no port has gives an error wrapping ErrNotRun.
func resolvePort(p intstr.IntOrString, ports []corev1.ContainerPort) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("%w: no container port named %q", ErrNotRun, p.StrVal)
}

// Limits of what an HTTP probe or hook reads of a response body (the
// kubelet reads 10 KiB) and of the redirects it follows.
const (
	maxProbeBody   = 10 << 10
	maxProbeFollow = 10
)

// sameHostRedirects follows a redirect only to the host of the first request
// (the hostname, as the kubelet compares it), at most maxProbeFollow times;
// a redirect elsewhere is not followed and its response is the result.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxProbeFollow {
		return fmt.Errorf("stopped after %d redirects", maxProbeFollow)
	}
	return nil
}

// HTTPCheck does an HTTP GET as the kubelet's prober does: status 200-299
// is success; 300-399 (a redirect to another host, which is not followed,
// or one without a location) is success with a warning; HTTPS certificates
// are not verified and no proxy is used, whatever bosun's environment says.
// It reads at most maxResponseHeader bytes of headers and maxProbeBody of
// the body; a warning quotes at most the first maxQuoted bytes of the
// redirect's target, a failure those of the body. Messages show URLs
// without their query and password (shownURL). The request's headers are
// as newRequest makes them, with User-Agent kube-probe/KubeVersion.
func HTTPCheck(ctx context.Context, g *corev1.HTTPGetAction, t Target, timeout time.Duration) (warning string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := newRequest(ctx, g, t, probeUserAgent)
	if err != nil {
		return "", err
	}
	resp, err := do(req)
	if err != nil {
		return "", err
	}
	switch {
	case resp.status >= 200 && resp.status < 300:
		return "", nil
	case resp.status >= 300 && resp.status < 400:
		w := fmt.Sprintf("HTTP probe of %s ended at a redirect that is not followed (%d to %s): counted as success", shownURL(req.URL.String()), resp.status, resp.location)
		return Truncate(w, MaxMessage), nil
	}
	return "", fmt.Errorf("HTTP probe failed with statuscode: %d: %s", resp.status, quote(resp.body))
}

// HTTPHook does the GET of an httpGet lifecycle hook as the kubelet's
// handler runner does: any answer is success, whatever its status code;
// only a request that got no answer fails. An HTTPS hook answered in plain
// HTTP is asked again over HTTP without its Authorization header, and a
// success then comes with a warning. Requests, bounds and messages are as
// for HTTPCheck, with User-Agent kube-lifecycle/KubeVersion.
func HTTPHook(ctx context.Context, g *corev1.HTTPGetAction, t Target, timeout time.Duration) (warning string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := newRequest(ctx, g, t, hookUserAgent)
	if err != nil {
		return "", err
	}
	_, err = do(req)
	if !errors.Is(err, errHTTPToHTTPS) {
		return "", err
	}
	plain := req.Clone(ctx)
	plain.URL.Scheme = "http"
	plain.Header.Del("Authorization")
	if _, perr := do(plain); perr != nil {
		return "", err
	}
	return fmt.Sprintf("HTTPS lifecycle hook %s got an HTTP answer; asked again over HTTP, which succeeded", shownURL(plain.URL.String())), nil
}

// newRequest is the GET of g to t as the kubelet makes it
// (NewRequestForHTTPGetAction): the manifest's headers, under their
// canonical names, with User-Agent set to userAgent and Accept to "*/*"
// unless the manifest gives them (an empty Accept removes it, an empty
// User-Agent sends none), and the first Host header as the request's host.
func newRequest(ctx context.Context, g *corev1.HTTPGetAction, t Target, userAgent string) (*http.Request, error) {
	port, err := resolvePort(g.Port, t.Ports)
	if err != nil {
		return nil, err
	}
	host := t.Host
	if g.Host != "" {
		host = g.Host
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: g.Path}
	if p, err := url.Parse(g.Path); err == nil {
		u.Path, u.RawQuery = p.Path, p.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotRun, err)
	}
	header := http.Header{}
	for _, h := range g.HTTPHeaders {
		header.Add(h.Name, h.Value)
	}
	if _, ok := header["User-Agent"]; !ok {
		header.Set("User-Agent", userAgent)
	}
	if _, ok := header["Accept"]; !ok {
		header.Set("Accept", "*/*")
	} else if header.Get("Accept") == "" {
		header.Del("Accept")
	}
	req.Host = header.Get("Host")
	header.Del("Host")
	req.Header = header
	return req, nil
}

// errHTTPToHTTPS is the error of an HTTPS request answered in plain HTTP.
var errHTTPToHTTPS = errors.New("server gave HTTP response to HTTPS client")

// response is what a probe or hook keeps of an HTTP answer: its status, its
// redirect's target as messages show it, and at most maxProbeBody bytes of
// its body.
type response struct {
	status   int
	location string
	body     []byte
}

// do sends req as probes and hooks do: HTTPS certificates are not verified,
// no proxy is used, whatever bosun's environment says, redirects are
// followed only on the same host (sameHostRedirects), at most
// maxResponseHeader bytes of headers are read. An error shows the URL
// without its query and password, and wraps errHTTPToHTTPS when an HTTPS
// request got a plain HTTP answer.
func do(req *http.Request) (response, error) {
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:        &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probes do not verify, as the kubelet's
			DisableKeepAlives:      true,
			DisableCompression:     true,
			MaxResponseHeaderBytes: maxResponseHeader,
			Proxy:                  nil, // never HTTP(S)_PROXY: a probe goes to the pod
		},
		CheckRedirect: sameHostRedirects,
	}
	resp, err := client.Do(req)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		if strings.Contains(ue.Err.Error(), errHTTPToHTTPS.Error()) {
			return response{}, fmt.Errorf("GET %s: %w", shownURL(ue.URL), errHTTPToHTTPS)
		}
		return response{}, fmt.Errorf("GET %s: %w", shownURL(ue.URL), ue.Err)
	}
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	out := response{status: resp.StatusCode, location: "no location", body: body}
	if loc, err := resp.Location(); err == nil {
		out.location = shownURL(loc.String())
	}
	return out, nil
}

// shownURL is raw, a URL, as messages show it: without its query (where
// tokens go) and password, its first maxQuoted bytes quoted.
func shownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		before, _, _ := strings.Cut(raw, "?")
		return quote([]byte(before))
	}
	u.RawQuery, u.ForceQuery = "", false
	return quote([]byte(u.Redacted()))
}

// TCPCheck opens a TCP connection.
func TCPCheck(ctx context.Context, s *corev1.TCPSocketAction, t Target, timeout time.Duration) error {
	port, err := resolvePort(s.Port, t.Ports)
	if err != nil {
		return err
	}
	host := t.Host
	if s.Host != "" {
		host = s.Host
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return c.Close()
}

// GRPCCheck asks the gRPC health service; SERVING is success. It dials the
// pod directly, never through a proxy from bosun's environment nor with a
// service config from DNS, and reads
// at most maxResponseHeader bytes of headers (which carry the status
// message) and of the answer.
func GRPCCheck(ctx context.Context, g *corev1.GRPCAction, t Target, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := grpc.NewClient(net.JoinHostPort(t.Host, strconv.Itoa(int(g.Port))),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithNoProxy(), grpc.WithDisableServiceConfig(),
		grpc.WithMaxHeaderListSize(maxResponseHeader), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResponseHeader)))
	if err != nil {
		return err
	}
	defer conn.Close()
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fmt.Errorf("gRPC health check: %w", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("gRPC health check: service %q is %s", service, resp.GetStatus())
	}
	return nil
}
