package ha

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// etcdClient asks a node's etcd member through its gRPC gateway (JSON over
// HTTPS on the client port), with the health-check client certificate
// kubeadm makes on every stacked-etcd node: what `etcdctl member list` and
// `etcdctl endpoint status` print.
type etcdClient struct {
	url  string
	http *http.Client
}

func (n *node) etcd() (*etcdClient, error) {
	ca, err := os.ReadFile(n.hostPath("/etc/kubernetes/pki/etcd/ca.crt"))
	if err != nil {
		return nil, err
	}
	pair, err := tls.LoadX509KeyPair(n.hostPath("/etc/kubernetes/pki/etcd/healthcheck-client.crt"), n.hostPath("/etc/kubernetes/pki/etcd/healthcheck-client.key"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.name, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s: no etcd CA certificate", n.name)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}, DisableKeepAlives: true}
	return &etcdClient{url: "https://" + n.ip + ":2379", http: &http.Client{Transport: tr, Timeout: 3 * time.Second}}, nil
}

func (c *etcdClient) post(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+path, bytes.NewReader([]byte("{}")))
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s%s: %w", c.url, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s%s: %s: %.200q", c.url, path, resp.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s%s: %w", c.url, path, err)
	}
	return nil
}

// uint64s are written by the gateway as JSON strings; numbers are taken
// too.
type jsonUint uint64

func (u *jsonUint) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseUint(strings.Trim(string(b), `"`), 10, 64)
	*u = jsonUint(v)
	return err
}

type etcdMember struct {
	ID         jsonUint `json:"ID"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	IsLearner  bool     `json:"isLearner"`
}

// started: a member that has not started yet has no name.
func (m etcdMember) String() string {
	role := "voter"
	if m.IsLearner {
		role = "learner"
	}
	state := "started"
	if m.Name == "" {
		state = "unstarted"
	}
	return fmt.Sprintf("%x %s %s %s %s", uint64(m.ID), state, m.Name, strings.Join(m.PeerURLs, ","), role)
}

func (c *etcdClient) members(ctx context.Context) ([]etcdMember, error) {
	var resp struct {
		Members []etcdMember `json:"members"`
	}
	err := c.post(ctx, "/v3/cluster/member/list", &resp)
	return resp.Members, err
}

type etcdStatus struct {
	Header struct {
		MemberID jsonUint `json:"member_id"`
	} `json:"header"`
	Leader           jsonUint `json:"leader"`
	RaftIndex        jsonUint `json:"raftIndex"`
	RaftAppliedIndex jsonUint `json:"raftAppliedIndex"`
	IsLearner        bool     `json:"isLearner"`
	Errors           []string `json:"errors"`
}

func (c *etcdClient) status(ctx context.Context) (etcdStatus, error) {
	var s etcdStatus
	err := c.post(ctx, "/v3/maintenance/status", &s)
	return s, err
}

// membersMismatch says how the member list differs from numNodes started
// voting members named as the nodes; empty when it does not.
func membersMismatch(ms []etcdMember) string {
	var diffs []string
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.Name] = true
		if m.Name == "" || m.IsLearner {
			diffs = append(diffs, "member "+m.String())
		}
	}
	for _, n := range nodes {
		if !seen[n.name] {
			diffs = append(diffs, "no member "+n.name)
		}
	}
	if len(ms) != numNodes {
		diffs = append(diffs, fmt.Sprintf("%d members", len(ms)))
	}
	return strings.Join(diffs, "; ")
}
