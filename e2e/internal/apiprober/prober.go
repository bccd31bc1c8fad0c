package apiprober

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// labelKey labels every ConfigMap a Prober writes; its value is the prefix.
const labelKey = "bosun.dev/ha-probe"

// requestTimeout bounds each request of a round: long enough that a loaded
// machine's slow answer is not taken for a failure. A server that cannot be
// reached fails sooner: the client's dial times out after dialTimeout.
const requestTimeout = 5 * time.Second

// Round is one write-and-read of a Prober.
type Round struct {
	// At is when the round started.
	At time.Time
	// Took is how long the round ran.
	Took time.Duration
	// Wrote is the name of the ConfigMap whose POST answered 201, else "".
	Wrote string
	// Err is why the round failed; nil when both requests passed.
	Err error
}

// Prober runs rounds until Stop.
type Prober struct {
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}

	mu     sync.Mutex
	rounds []Round
}

// Start begins rounds against c every interval: each POSTs a ConfigMap
// PREFIX-<seq> in namespace, labelled bosun.dev/ha-probe=PREFIX with data
// {"seq": "<seq>"}, then GETs it back and compares the data. Each request
// has 2 s; a round fails when either fails. A round that runs longer than
// interval delays the next one; rounds never overlap. prefix must be a valid
// label value and leave room for the sequence number in a ConfigMap name.
func Start(c *Client, namespace, prefix string, interval time.Duration) *Prober {
	p := &Prober{stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(c, namespace, prefix, interval)
	return p
}

func (p *Prober) run(c *Client, namespace, prefix string, interval time.Duration) {
	defer close(p.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for seq := 1; ; seq++ {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		start := time.Now()
		r := round(c, namespace, prefix, seq)
		r.At, r.Took = start, time.Since(start)
		p.mu.Lock()
		p.rounds = append(p.rounds, r)
		p.mu.Unlock()
		t.Reset(max(0, interval-time.Since(start)))
	}
}

// round writes ConfigMap PREFIX-seq and reads it back.
func round(c *Client, namespace, prefix string, seq int) Round {
	name := prefix + "-" + strconv.Itoa(seq)
	want := map[string]string{"seq": strconv.Itoa(seq)}
	cm := corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{labelKey: prefix}},
		Data:       want,
	}
	body, err := json.Marshal(cm)
	if err != nil {
		return Round{Err: fmt.Errorf("ConfigMap %s/%s: %w", namespace, name, err)}
	}
	var r Round
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	_, status, err := c.Do(ctx, http.MethodPost, configMapsPath(namespace), body)
	cancel()
	if err != nil {
		r.Err = fmt.Errorf("write ConfigMap %s/%s: %w", namespace, name, err)
		return r
	}
	if status != http.StatusCreated {
		r.Err = fmt.Errorf("write ConfigMap %s/%s: status %d, want 201", namespace, name, status)
		return r
	}
	r.Wrote = name

	ctx, cancel = context.WithTimeout(context.Background(), requestTimeout)
	b, _, err := c.Do(ctx, http.MethodGet, configMapsPath(namespace)+"/"+url.PathEscape(name), nil)
	cancel()
	if err != nil {
		r.Err = fmt.Errorf("read ConfigMap %s/%s: %w", namespace, name, err)
		return r
	}
	var got corev1.ConfigMap
	if err := json.Unmarshal(b, &got); err != nil {
		r.Err = fmt.Errorf("read ConfigMap %s/%s: %w", namespace, name, err)
		return r
	}
	if len(got.Data) != len(want) || got.Data["seq"] != want["seq"] {
		r.Err = fmt.Errorf("read ConfigMap %s/%s: data %q, want %q", namespace, name, got.Data, want)
	}
	return r
}

// Rounds returns the rounds finished so far, oldest first.
func (p *Prober) Rounds() []Round {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Round(nil), p.rounds...)
}

// Stop waits for the round in flight, if any (at most two request
// timeouts), ends the Prober and returns all its rounds. It is idempotent.
func (p *Prober) Stop() []Round {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	return p.Rounds()
}
