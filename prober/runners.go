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
)

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
		err = errors.New("probe has no action")
	}
	return Truncate(warning, MaxMessage), bound(err)
}

// Hook runs a lifecycle hook within timeout and returns why it failed; a
// warning is as for Probe. A sleep hook sleeps for its seconds or timeout,
// whichever is shorter, and ends early when ctx ends, without an error.
func (r Runner) Hook(ctx context.Context, h *corev1.LifecycleHandler, t Target, timeout time.Duration) (warning string, err error) {
	if h.Exec == nil && h.HTTPGet == nil && h.TCPSocket == nil && h.Sleep == nil {
		return "", errors.New("hook has no action")
	}
	if h.Sleep == nil {
		return r.Probe(ctx, &corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}, t, timeout)
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
// which may carry what only the manifest's readers (root) may see.
func (r Runner) ExecCheck(ctx context.Context, id string, cmd []string, timeout time.Duration) error {
	code, out, err := r.Exec.ExecSync(ctx, id, cmd, timeout)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("exec exited with %d: %s", code, quote(out))
	}
	return nil
}

// resolvePort turns a port number or a container port name into a number.
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
	return 0, fmt.Errorf("no container port named %q", p.StrVal)
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
// without their query and password (shownURL).
func HTTPCheck(ctx context.Context, g *corev1.HTTPGetAction, t Target, timeout time.Duration) (warning string, err error) {
	port, err := resolvePort(g.Port, t.Ports)
	if err != nil {
		return "", err
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
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "bosun-probe")
	for _, h := range g.HTTPHeaders {
		if h.Name == "Host" {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
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
		return "", fmt.Errorf("GET %s: %w", shownURL(ue.URL), ue.Err)
	}
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return "", nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		where := "no location"
		if loc, err := resp.Location(); err == nil {
			where = shownURL(loc.String())
		}
		w := fmt.Sprintf("HTTP probe of %s ended at a redirect that is not followed (%d to %s): counted as success", shownURL(u.String()), resp.StatusCode, where)
		return Truncate(w, MaxMessage), nil
	}
	return "", fmt.Errorf("HTTP probe failed with statuscode: %d: %s", resp.StatusCode, quote(body))
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
