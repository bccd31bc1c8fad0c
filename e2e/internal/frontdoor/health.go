package frontdoor

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// checkTimeout bounds one health check, as haproxy's "timeout check".
const checkTimeout = time.Second

// check probes backend every CheckInterval until the Door closes: HTTPS GET
// /readyz without verifying the certificate (haproxy's "check-ssl verify
// none"); healthy means status 200. One failure makes a backend unhealthy,
// one success makes it healthy again (fall 1, rise 1).
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
	t := time.NewTicker(d.cfg.CheckInterval)
	defer t.Stop()
	for {
		reason := probe(client, target)
		if d.ctx.Err() != nil {
			return
		}
		d.mu.Lock()
		was := d.healthy[backend]
		now := reason == ""
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

// probe returns "" when target answers 200, else a short reason.
func probe(client *http.Client, target string) string {
	resp, err := client.Get(target)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return shorten(err.Error())
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("status %d", resp.StatusCode)
	}
	return ""
}

// shorten bounds a reason for the log and escapes what a backend sent.
func shorten(s string) string {
	const max = 160
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}
