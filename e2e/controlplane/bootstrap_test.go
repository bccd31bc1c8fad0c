package controlplane

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// The kubeconfig files of kubeadm's node: the node's credentials, and the
// bootstrap token kubeconfig kubeadm join writes.
const (
	kubeletConf   = "/etc/kubernetes/kubelet.conf"
	bootstrapConf = "/etc/kubernetes/bootstrap-kubelet.conf"
	pkiDir        = "/var/lib/kubelet/pki"
)

// tlsBootstrap: the node's credentials are gone and only a bootstrap token
// kubeconfig is there, as `kubeadm join` leaves a node in its kubelet-start
// phase: the next bosun requests a client certificate through a CSR
// (approved by kubeadm's auto-approval binding), writes kubelet.conf
// pointing at /var/lib/kubelet/pki/kubelet-client-current.pem, which is what
// kubeadm join waits for, and carries on as the same node. No container is
// touched.
func (f *faults) tlsBootstrap(t *testing.T) {
	f.r.t = t
	out, _ := netnsKubeadm(t, kubeBin, time.Minute, "token", "create", "--kubeconfig", "/etc/kubernetes/admin.conf", "--ttl", "10m")
	token := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	admin, err := clientcmd.LoadFromFile("/etc/kubernetes/admin.conf")
	if err != nil {
		t.Fatal(err)
	}
	var server string
	var ca []byte
	for _, c := range admin.Clusters {
		server, ca = c.Server, c.CertificateAuthorityData
	}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    server: %s
    certificate-authority-data: %s
contexts:
- name: tls-bootstrap-token-user@kubernetes
  context: {cluster: kubernetes, user: tls-bootstrap-token-user}
current-context: tls-bootstrap-token-user@kubernetes
users:
- name: tls-bootstrap-token-user
  user:
    token: %s
`, server, base64.StdEncoding.EncodeToString(ca), token)

	before := containers(t)
	f.r.kill(syscall.SIGTERM)
	if err := os.Rename(kubeletConf, kubeletConf+".before-bootstrap"); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(pkiDir, "kubelet-client*"))
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(bootstrapConf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(bootstrapConf)
	started := time.Now()
	f.r.start()
	var took time.Duration
	eventually(t, 2*time.Minute, "bosun to write "+kubeletConf+" through a CSR", func() bool {
		_, err := os.Stat(kubeletConf)
		took = time.Since(started)
		return err == nil
	})
	conf, err := clientcmd.LoadFromFile(kubeletConf)
	if err != nil {
		t.Fatal(err)
	}
	current := filepath.Join(pkiDir, "kubelet-client-current.pem")
	for name, a := range conf.AuthInfos {
		if a.ClientCertificate != current || a.ClientKey != current {
			t.Errorf("%s user %s: client-certificate %q, client-key %q; want both %s", kubeletConf, name, a.ClientCertificate, a.ClientKey, current)
		}
	}
	if st, err := os.Stat(kubeletConf); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", kubeletConf, st.Mode().Perm())
	}
	pemBytes, err := os.ReadFile(current)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatalf("%s holds no PEM block", current)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "system:node:"+nodeName || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "system:nodes" {
		t.Errorf("the bootstrapped certificate is for %v, want CN system:node:%s, O system:nodes", cert.Subject, nodeName)
	}
	csrs, err := f.kc.CertificatesV1().CertificateSigningRequests().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	approved := 0
	for _, c := range csrs.Items {
		if c.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName || !strings.HasPrefix(c.Spec.Username, "system:bootstrap:") {
			continue
		}
		for _, cond := range c.Status.Conditions {
			if cond.Type == certificatesv1.CertificateApproved {
				approved++
			}
		}
	}
	if approved == 0 {
		t.Errorf("no approved CSR of signer %s from a bootstrap token", certificatesv1.KubeAPIServerClientKubeletSignerName)
	}
	waitNode(t, f.kc, time.Minute)
	waitMirrors(t, f.kc, f.r, time.Minute, "after the TLS bootstrap")
	if err := sameContainers(before, containers(t)); err != nil {
		t.Error(err)
	}
	t.Logf("bosun started with only %s → %s written in %v", bootstrapConf, kubeletConf, took.Round(time.Millisecond))
	f.m.add("TLS bootstrap (only `bootstrap-kubelet.conf`): bosun start → `kubelet.conf` written", secs(took))
}
