package frontdoor

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// checkTimeout bounds one health check, as haproxy's "timeout check".
const checkTimeout = 3 * time.Second

// timeoutsToFall is how many checks in a row must go unanswered before a
// backend is taken out: a loaded machine can keep a working apiserver from
// answering one check in time. An answer that is not 200, or a refused
// connection, takes it out at once.
const timeoutsToFall = 2

// check probes backend every CheckInterval until the Door closes: HTTPS GET
// /readyz without verifying the certificate (haproxy's "check-ssl verify
// none"); healthy means status 200. An answer that is not 200 or a refused
// connection makes a backend unhealthy at once, timeoutsToFall unanswered
// checks in a row do; one success makes it healthy again.
func (d *Door) check(backend string) {
	defer d.wg.Done()
	client := &http.Client{
		Timeout: checkTimeout,
		Transport: &http.Transport{
			// A liveness check of the TCP endpoint, not an authentication.
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
			DisableKeepAlives: true,
			Proxy:             nil,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	target := "https://" + backend + "/readyz"
	first := true
	timeouts := 0
	t := time.NewTicker(d.cfg.CheckInterval)
	defer t.Stop()
	for {
		reason, timedOut := probe(client, target)
		if d.ctx.Err() != nil {
			return
		}
		if timedOut {
			timeouts++
		} else {
			timeouts = 0
		}
		d.mu.Lock()
		was := d.healthy[backend]
		now := reason == "" || (timedOut && timeouts < timeoutsToFall && was)
		d.healthy[backend] = now
		d.mu.Unlock()
		switch {
		case now && !was:
			d.logf("frontdoor: backend %s healthy", backend)
		case !now && (was || first):
			d.logf("frontdoor: backend %s unhealthy: %s", backend, reason)
		}
		first = false
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe returns "" when target answers 200, else a short reason, and
// whether the reason is that no answer came in time.
func probe(client *http.Client, target string) (string, bool) {
	resp, err := client.Get(target)
	if err != nil {
		var ne net.Error
		timedOut := errors.As(err, &ne) && ne.Timeout()
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return shorten(err.Error()), timedOut
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("status %d", resp.StatusCode), false
	}
	return "", false
}

// shorten bounds a reason for the log and escapes what a backend sent.
func shorten(s string) string {
	const max = 160
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}
