package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAnAPIServerThatIsAbsentOrHangsHoldsUpNoPod starts bosun with a
// kubeconfig whose API server accepts connections and never answers (the
// worst an API server on its way down does), and with a kubeconfig that does
// not exist yet (a node before kubeadm writes it): the first sync, the pods,
// /healthz and /readyz are as without an API side, and bosun inspect says
// where the mirror pod stands.
func TestAnAPIServerThatIsAbsentOrHangsHoldsUpNoPod(t *testing.T) {
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	hanging := filepath.Join(t.TempDir(), "kubelet.conf")
	if err := os.WriteFile(hanging, nodeKubeconfig(t, "https://"+hang.Addr().String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, kubeconfig, mirror string }{
		{"hanging", hanging, "none: "},
		{"absent", filepath.Join(t.TempDir(), "kubelet.conf"), "none: waiting for "},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Never the host's /var/lib/kubelet/pki: kubeadm's fixed path.
			e := newEnv(t, "--kubeconfig", c.kubeconfig, "--cert-dir", filepath.Join(t.TempDir(), "pki"))
			e.write("web.yaml", sleeperPod("web", "Always"))
			e.startBosun()
			e.waitRunning("web", "main")
			addr := e.httpAddr()
			for _, path := range []string{"/healthz", "/readyz"} {
				if body, err := getAnswer("http://" + addr + path); err != nil || body != "ok\n" {
					t.Errorf("%s with an API server that %s: %q %v", path, c.name, body, err)
				}
			}
			out := e.cli("inspect", "web")
			if !strings.Contains(out, "Mirror pod:") || !strings.Contains(out, c.mirror) {
				t.Errorf("bosun inspect web does not say the mirror pod is %q...:\n%s", c.mirror, out)
			}
		})
	}
}

// nodeKubeconfig is a kubeconfig for server with a client certificate of
// a node, signed by nobody the server knows.
func nodeKubeconfig(t *testing.T, server string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "system:node:e2e", Organization: []string{"system:nodes"}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		IsCA:        true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(typ string, der []byte) string {
		return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: %s
    certificate-authority-data: %s
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
users:
- name: u
  user:
    client-certificate-data: %s
    client-key-data: %s
`, server, b64("CERTIFICATE", der), b64("CERTIFICATE", der), b64("EC PRIVATE KEY", keyDER))
}
