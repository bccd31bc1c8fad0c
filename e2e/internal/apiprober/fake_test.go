package apiprober

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeAPI plays kube-apiserver for ConfigMaps: create, get and a paged list
// with an exact label selector, behind TLS that requires a client
// certificate from the test's CA.
type fakeAPI struct {
	srv *httptest.Server

	fail    atomic.Bool  // every request answers 503
	corrupt atomic.Bool  // GET answers other data than was written
	delay   atomic.Int64 // nanoseconds before each answer

	newConns atomic.Int64
	requests atomic.Int64
	inFlight atomic.Int64
	overlap  atomic.Bool // two requests were in flight at once

	mu  sync.Mutex
	cms map[string]corev1.ConfigMap // by namespace/name
}

// failBody is what the fake sends while failing: control characters and
// more than the client may keep.
var failBody = "etcdserver: leader changed\x00\x1b[31m" + strings.Repeat("x", 10<<10)

const pageSize = 3

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if f.inFlight.Add(1) > 1 {
		f.overlap.Store(true)
	}
	defer f.inFlight.Add(-1)
	time.Sleep(time.Duration(f.delay.Load()))
	if f.fail.Load() {
		http.Error(w, failBody, http.StatusServiceUnavailable)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) < 5 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "namespaces" || parts[4] != "configmaps" || len(parts) > 6 {
		http.NotFound(w, r)
		return
	}
	ns := parts[3]
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && len(parts) == 5:
		var cm corev1.ConfigMap
		if err := json.NewDecoder(r.Body).Decode(&cm); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		key := ns + "/" + cm.Name
		if _, ok := f.cms[key]; ok {
			http.Error(w, "already exists", http.StatusConflict)
			return
		}
		cm.Namespace = ns
		f.cms[key] = cm
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(cm)
	case r.Method == http.MethodGet && len(parts) == 6:
		cm, ok := f.cms[ns+"/"+parts[5]]
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if f.corrupt.Load() {
			cm.Data = map[string]string{"seq": "-1"}
		}
		_ = json.NewEncoder(w).Encode(cm)
	case r.Method == http.MethodGet && len(parts) == 5:
		key, value, _ := strings.Cut(r.URL.Query().Get("labelSelector"), "=")
		var names []string
		for k, cm := range f.cms {
			if cm.Namespace == ns && cm.Labels[key] == value {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		from, _ := strconv.Atoi(r.URL.Query().Get("continue"))
		list := corev1.ConfigMapList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMapList"}}
		for i := from; i < len(names) && i < from+pageSize; i++ {
			list.Items = append(list.Items, f.cms[names[i]])
		}
		if from+pageSize < len(names) {
			list.Continue = strconv.Itoa(from + pageSize)
		}
		_ = json.NewEncoder(w).Encode(list)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// forget drops a ConfigMap, as a write lost in a failover would be.
func (f *fakeAPI) forget(namespace, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.cms, namespace+"/"+name)
}

// newFakeAPI starts the fake and writes a kubeadm-shaped kubeconfig for it.
func newFakeAPI(t *testing.T) (*fakeAPI, string) {
	t.Helper()
	caKey, caCert, caPEM := newCA(t)
	serverPair := issue(t, caKey, caCert, "kube-apiserver", x509.ExtKeyUsageServerAuth)
	clientPair := issue(t, caKey, caCert, "kubernetes-admin", x509.ExtKeyUsageClientAuth)

	f := &fakeAPI{cms: map[string]corev1.ConfigMap{}}
	f.srv = httptest.NewUnstartedServer(f)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	f.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{serverPair.tls},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}
	f.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.newConns.Add(1)
		}
	}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)

	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    server: %s
    certificate-authority-data: %s
contexts:
- name: kubernetes-admin@kubernetes
  context: {cluster: kubernetes, user: kubernetes-admin}
current-context: kubernetes-admin@kubernetes
users:
- name: kubernetes-admin
  user:
    client-certificate-data: %s
    client-key-data: %s
`, f.srv.URL, b64(caPEM), b64(clientPair.certPEM), b64(clientPair.keyPEM))
	path := filepath.Join(t.TempDir(), "admin.conf")
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return f, path
}

func newCA(t *testing.T) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kubernetes"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

type pair struct {
	tls     tls.Certificate
	certPEM []byte
	keyPEM  []byte
}

var serial atomic.Int64

func issue(t *testing.T, caKey *ecdsa.PrivateKey, ca *x509.Certificate, cn string, usage x509.ExtKeyUsage) pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2 + serial.Add(1)),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"system:masters"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := pair{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	if p.tls, err = tls.X509KeyPair(p.certPEM, p.keyPEM); err != nil {
		t.Fatal(err)
	}
	return p
}
