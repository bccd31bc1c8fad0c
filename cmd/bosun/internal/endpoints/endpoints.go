// Package endpoints serves bosun's HTTP endpoints on loopback: /healthz,
// /readyz, Prometheus /metrics and, with --profiling, /debug/pprof.
package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bosun-sh/bosun/sync"
)

// State is what the endpoints read from the loop.
type State interface {
	Pods() []sync.PodStatus
	Manifests() []sync.ManifestStatus
	Ready() bool
}

// Metrics holds bosun's Prometheus metrics.
type Metrics struct {
	registry  *prometheus.Registry
	sync      prometheus.Histogram
	cri       *prometheus.HistogramVec
	rollbacks *prometheus.CounterVec
	// imagesRemoved and imageBytesFreed count the image collector's work.
	imagesRemoved   *prometheus.CounterVec
	imageBytesFreed prometheus.Counter
}

// NewMetrics registers bosun's metrics; Watch adds those read from the loop.
func NewMetrics(version string) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		sync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bosun_sync_duration_seconds", Help: "Duration of one sync of all pods (observe, plan, dispatch).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		cri: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bosun_cri_call_duration_seconds", Help: "Duration of CRI calls by method and gRPC code.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2.5, 14),
		}, []string{"method", "code"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bosun_rollbacks_total", Help: "Pods rolled back to their last Ready version, by reason.",
		}, []string{"reason"}),
		imagesRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bosun_images_removed_total", Help: "Unused images removed by the image garbage collector, by reason (DiskPressure, MaxAge).",
		}, []string{"reason"}),
		imageBytesFreed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bosun_image_bytes_freed_total", Help: "Bytes of the images removed by the image garbage collector, as the runtime sizes them.",
		}),
	}
	for _, reason := range []string{"ProgressDeadlineExceeded", "CrashLoopBackOff"} {
		m.rollbacks.WithLabelValues(reason)
	}
	for _, reason := range []string{"DiskPressure", "MaxAge"} {
		m.imagesRemoved.WithLabelValues(reason)
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "bosun_build_info", Help: "bosun's version and Go version; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)
	m.registry.MustRegister(m.sync, m.cri, m.rollbacks, m.imagesRemoved, m.imageBytesFreed, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Watch adds the metrics read from state at each scrape (pods by phase,
// restarts, manifest errors, backoff, runtime up).
func (m *Metrics) Watch(state State) {
	m.registry.MustRegister(&stateCollector{state: state})
}

// ObserveSync records the duration of one sync.
func (m *Metrics) ObserveSync(d time.Duration) { m.sync.Observe(d.Seconds()) }

// ObserveRollback counts one rollback.
func (m *Metrics) ObserveRollback(reason string) { m.rollbacks.WithLabelValues(reason).Inc() }

// ObserveImageRemoved counts one image removed for reason and its bytes.
func (m *Metrics) ObserveImageRemoved(reason string, bytes uint64) {
	m.imagesRemoved.WithLabelValues(reason).Inc()
	m.imageBytesFreed.Add(float64(bytes))
}

// ObserveCRI records one CRI call.
func (m *Metrics) ObserveCRI(method, code string, d time.Duration) {
	m.cri.WithLabelValues(method, code).Observe(d.Seconds())
}

var (
	podsDesc     = prometheus.NewDesc("bosun_pods", "Pods by phase.", []string{"phase"}, nil)
	restartsDesc = prometheus.NewDesc("bosun_container_restarts_total", "Restarts of each container.", []string{"namespace", "pod", "container"}, nil)
	manifestDesc = prometheus.NewDesc("bosun_manifest_errors", "Manifest files that do not load.", nil, nil)
	backoffDesc  = prometheus.NewDesc("bosun_backoff_containers", "Containers waiting in CrashLoopBackOff.", nil, nil)
	upDesc       = prometheus.NewDesc("bosun_runtime_up", "1 when the container runtime answers and the first sync is done.", nil, nil)
)

// stateCollector reads the loop's status at scrape time, so the loop itself
// does no metrics work.
type stateCollector struct{ state State }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{podsDesc, restartsDesc, manifestDesc, backoffDesc, upDesc} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	phases := map[string]float64{"Pending": 0, "Running": 0, "Succeeded": 0, "Failed": 0, "Terminating": 0}
	backoff := 0.0
	for _, p := range c.state.Pods() {
		phases[p.Phase]++
		for _, cs := range p.Containers {
			ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(cs.RestartCount), p.Namespace, p.Name, cs.Name)
			if cs.Reason == "CrashLoopBackOff" {
				backoff++
			}
		}
	}
	for phase, n := range phases {
		ch <- prometheus.MustNewConstMetric(podsDesc, prometheus.GaugeValue, n, phase)
	}
	rejected := 0
	for _, m := range c.state.Manifests() {
		if m.Error != "" {
			rejected++
		}
	}
	ch <- prometheus.MustNewConstMetric(manifestDesc, prometheus.GaugeValue, float64(rejected))
	ch <- prometheus.MustNewConstMetric(backoffDesc, prometheus.GaugeValue, backoff)
	up := 0.0
	if c.state.Ready() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
}

// Loopback reports whether a host:port address listens only on loopback:
// "localhost" or a loopback IP. An empty host (all interfaces), another
// name, or a malformed address is not.
func Loopback(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Config says what to serve where. An empty address serves nothing there;
// equal addresses share one server.
type Config struct {
	HealthzAddr string
	MetricsAddr string
	Profiling   bool
	State       State
	Metrics     *Metrics
	Log         *slog.Logger
}

// Listen opens the listeners and returns a function that serves them until
// ctx ends. Errors name the flag's address.
func Listen(cfg Config) (func(ctx context.Context) error, error) {
	muxes := map[string]*http.ServeMux{}
	mux := func(addr string) *http.ServeMux {
		if muxes[addr] == nil {
			muxes[addr] = http.NewServeMux()
		}
		return muxes[addr]
	}
	if cfg.HealthzAddr != "" {
		m := mux(cfg.HealthzAddr)
		m.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		m.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if !cfg.State.Ready() {
				http.Error(w, "not ready: the runtime does not answer or the first sync is not done", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
	}
	if cfg.MetricsAddr != "" {
		m := mux(cfg.MetricsAddr)
		m.Handle("/metrics", promhttp.HandlerFor(cfg.Metrics.registry, promhttp.HandlerOpts{}))
		if cfg.Profiling {
			m.HandleFunc("/debug/pprof/", pprof.Index)
			m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			m.HandleFunc("/debug/pprof/profile", pprof.Profile)
			m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			m.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
	}
	type served struct {
		l   net.Listener
		srv *http.Server
	}
	var all []served
	for addr, m := range muxes {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, s := range all {
				s.l.Close()
			}
			return nil, fmt.Errorf("http endpoints on %s: %w", addr, err)
		}
		cfg.Log.Info("http endpoints serving", "address", l.Addr().String())
		all = append(all, served{l, &http.Server{Handler: m, ReadHeaderTimeout: 5 * time.Second}})
	}
	return func(ctx context.Context) error {
		errc := make(chan error, len(all))
		for _, s := range all {
			go func() {
				if err := s.srv.Serve(s.l); err != nil && !errors.Is(err, http.ErrServerClosed) {
					errc <- err
				}
			}()
		}
		select {
		case <-ctx.Done():
		case err := <-errc:
			return fmt.Errorf("http endpoints: %w", err)
		}
		for _, s := range all {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = s.srv.Shutdown(sctx)
			cancel()
		}
		return nil
	}, nil
}
