package e2e

import (
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// freePort returns a loopback TCP port number that is free now, never the
// same twice in one test binary. It comes from below the kernel's ephemeral
// range when there is room: a server started later on an ephemeral port can
// find it taken as the local port of some client's connection (EADDRINUSE).
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	low := ephemeralLow()
	for range 1000 {
		p := ephemeralFloor + mrand.IntN(max(low-ephemeralFloor, 1))
		if low <= ephemeralFloor {
			p = 0 // no room below the range: let the kernel choose
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		p = l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !portsGiven[p] {
			portsGiven[p] = true
			return p
		}
	}
	t.Fatal("no free loopback port")
	return 0
}

// ephemeralFloor is the lowest port freePort hands out.
const ephemeralFloor = 20000

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}

// getAnswer is get for a server that runs: it tries again while the request
// fails without an answer (a loaded machine can miss get's 2 s), for up to
// 30 s, and returns the first answer or the last error.
func getAnswer(url string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, err := get(url)
		if err == nil || time.Now().After(deadline) {
			return body, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// get fetches a loopback URL; only 127.0.0.1 is ever a target.
func get(url string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	r, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	return string(b), err
}
