package apiprober

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Bounds on what the apiserver sends back.
const (
	maxBody      = 64 << 20 // a 2xx answer, e.g. a list of many ConfigMaps
	maxErrorBody = 4 << 10  // the piece of a non-2xx answer put in the error
)

// dialTimeout bounds a connection's set-up: a connection on the test's own
// bridge is made within a millisecond even on a loaded machine (the kernel
// answers it), so a second means nothing answers at that address: a node
// that lost power, or a VIP not moved yet.
const dialTimeout = time.Second

// Client talks to one apiserver endpoint as the user of a kubeconfig.
type Client struct {
	server string
	http   *http.Client
}

// kubeconfig holds the fields of a kubeadm-written kubeconfig that the
// client uses: one cluster and one user with embedded certificates.
type kubeconfig struct {
	Clusters []struct {
		Cluster struct {
			Server                   string `json:"server"`
			CertificateAuthorityData string `json:"certificate-authority-data"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		User struct {
			ClientCertificateData string `json:"client-certificate-data"`
			ClientKeyData         string `json:"client-key-data"`
		} `json:"user"`
	} `json:"users"`
}

// NewClient reads a kubeadm kubeconfig such as admin.conf (LoadKubeconfig).
// The client dials from the caller's network namespace and opens a fresh
// TCP connection per request, so that no request passes because a
// connection to a server going away was still open.
func NewClient(kubeconfigPath string) (*Client, error) {
	server, cfg, err := LoadKubeconfig(kubeconfigPath)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		TLSClientConfig:     cfg,
		DisableKeepAlives:   true,
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: dialTimeout}).DialContext,
		TLSHandshakeTimeout: 2 * time.Second,
	}
	return &Client{server: server, http: &http.Client{Transport: tr}}, nil
}

// LoadKubeconfig reads a kubeadm kubeconfig such as admin.conf: one cluster
// with server and certificate-authority-data, one user with
// client-certificate-data and client-key-data. It returns the server URL
// and a TLS configuration trusting that CA with that client certificate.
func LoadKubeconfig(kubeconfigPath string) (string, *tls.Config, error) {
	b, err := os.ReadFile(kubeconfigPath)
	if err != nil {
		return "", nil, fmt.Errorf("kubeconfig: %w", err)
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(b, &kc); err != nil {
		return "", nil, fmt.Errorf("kubeconfig %s: %w", kubeconfigPath, err)
	}
	if len(kc.Clusters) != 1 || len(kc.Users) != 1 {
		return "", nil, fmt.Errorf("kubeconfig %s: %d clusters and %d users, want one of each",
			kubeconfigPath, len(kc.Clusters), len(kc.Users))
	}
	decode := func(field, s string) ([]byte, error) {
		d, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %s: %w", kubeconfigPath, field, err)
		}
		return d, nil
	}
	ca, err := decode("certificate-authority-data", kc.Clusters[0].Cluster.CertificateAuthorityData)
	if err != nil {
		return "", nil, err
	}
	cert, err := decode("client-certificate-data", kc.Users[0].User.ClientCertificateData)
	if err != nil {
		return "", nil, err
	}
	key, err := decode("client-key-data", kc.Users[0].User.ClientKeyData)
	if err != nil {
		return "", nil, err
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return "", nil, fmt.Errorf("kubeconfig %s: client certificate: %w", kubeconfigPath, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return "", nil, fmt.Errorf("kubeconfig %s: certificate-authority-data: no certificate", kubeconfigPath)
	}
	server := kc.Clusters[0].Cluster.Server
	if u, err := url.Parse(server); err != nil || u.Scheme != "https" || u.Host == "" {
		return "", nil, fmt.Errorf("kubeconfig %s: server %q: want https://HOST:PORT", kubeconfigPath, server)
	}
	return server, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}, nil
}

// Server returns the kubeconfig's server URL.
func (c *Client) Server() string { return c.server }

// Do sends a request to path on the server and returns the body and status.
// Only a 2xx answer returns no error; otherwise the error names the request
// and carries the status and at most 4 KiB of the body, escaped.
func (c *Client) Do(ctx context.Context, method, path string, body []byte) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strconv.Quote(string(b)))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if len(b) > maxBody {
		return nil, resp.StatusCode, fmt.Errorf("%s %s: answer over %d bytes", method, path, maxBody)
	}
	return b, resp.StatusCode, nil
}

// Missing lists the ConfigMaps in namespace labelled bosun.dev/ha-probe=prefix
// and returns the names, in the order given, that are not among them.
func (c *Client) Missing(ctx context.Context, namespace, prefix string, names []string) ([]string, error) {
	have := map[string]bool{}
	q := url.Values{"labelSelector": {labelKey + "=" + prefix}, "limit": {"500"}}
	for {
		path := configMapsPath(namespace) + "?" + q.Encode()
		b, _, err := c.Do(ctx, http.MethodGet, path, nil)
		if err != nil {
			return nil, fmt.Errorf("list probe ConfigMaps: %w", err)
		}
		var list corev1.ConfigMapList
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("list probe ConfigMaps in %s: %w", namespace, err)
		}
		for _, cm := range list.Items {
			have[cm.Name] = true
		}
		if list.Continue == "" {
			break
		}
		q.Set("continue", list.Continue)
	}
	var missing []string
	for _, n := range names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

func configMapsPath(namespace string) string {
	return "/api/v1/namespaces/" + url.PathEscape(namespace) + "/configmaps"
}
