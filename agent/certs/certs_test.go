package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/clientcmd"
	clocktesting "k8s.io/utils/clock/testing"
)

func testConfig(p paths) Config {
	return Config{
		Kubeconfig:          p.kubeconfig,
		BootstrapKubeconfig: p.bootstrap,
		CertDir:             p.certDir,
		NodeName:            testNode,
		Clock:               clocktesting.NewFakeClock(time.Now()),
		Log:                 slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func TestBootstrapWritesTheCurrentCertificateAndAKubeconfigPointingAtIt(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	p := newPaths(t)
	writeBootstrapKubeconfig(t, p.bootstrap, ca)

	got, err := start(t.Context(), testConfig(p), api.newClient)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}

	csrs := api.createdCSRs()
	if len(csrs) != 1 {
		t.Fatalf("CSRs made: %d, want 1", len(csrs))
	}
	req := csrs[0]
	if req.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName {
		t.Errorf("signerName %q", req.Spec.SignerName)
	}
	wantUsages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	if !slices.Equal(req.Spec.Usages, wantUsages) {
		t.Errorf("usages %v, want %v", req.Spec.Usages, wantUsages)
	}
	if api.configs[0].BearerToken != "abcdef.0123456789abcdef" {
		t.Errorf("the CSR was not made with the bootstrap token")
	}

	if m := fileMode(t, p.current); m != 0o600 {
		t.Errorf("%s mode %v, want 0600", p.current, m)
	}
	if m := fileMode(t, p.kubeconfig); m != 0o600 {
		t.Errorf("%s mode %v, want 0600", p.kubeconfig, m)
	}
	if _, err := os.Lstat(p.certDir + "/kubelet-client.key.tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary key left behind: %v", err)
	}

	kc, err := clientcmd.LoadFromFile(p.kubeconfig)
	if err != nil {
		t.Fatalf("load %s: %v", p.kubeconfig, err)
	}
	auth := kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo]
	if auth.ClientCertificate != p.current || auth.ClientKey != p.current {
		t.Errorf("kubeconfig cert %q key %q, want both %q", auth.ClientCertificate, auth.ClientKey, p.current)
	}
	cluster := kc.Clusters[kc.Contexts[kc.CurrentContext].Cluster]
	if cluster.Server != "https://127.0.0.1:6443" || !bytes.Equal(cluster.CertificateAuthorityData, ca.pem) {
		t.Errorf("cluster %q with CA %d bytes, want the bootstrap kubeconfig's", cluster.Server, len(cluster.CertificateAuthorityData))
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", p.kubeconfig)
	if err != nil {
		t.Fatalf("kubeconfig does not build a client config: %v", err)
	}
	tc, err := rest.TLSConfigFor(restCfg)
	if err != nil {
		t.Fatalf("kubeconfig's TLS: %v", err)
	}
	leaf := presented(t, tc)
	if leaf.Subject.CommonName != "system:node:"+testNode || !slices.Equal(leaf.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("issued certificate subject %v", leaf.Subject)
	}
	if !bytes.Equal(leaf.Raw, firstCert(t, csrs[0].Status.Certificate).Raw) {
		t.Errorf("kubeconfig presents a certificate other than the issued one")
	}

	if got.UserAgent != "bosun/"+testNode {
		t.Errorf("user agent %q", got.UserAgent)
	}
	gotTLS, err := rest.TLSConfigFor(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(presented(t, gotTLS).Raw, leaf.Raw) {
		t.Errorf("the returned config presents another certificate than kubelet.conf")
	}
	if api.reviews != 1 {
		t.Errorf("self subject reviews: %d, want 1", api.reviews)
	}
}

func TestBootstrapWaitsForTheCSRToBeApprovedAndIssued(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	api.hold = true
	p := newPaths(t)
	writeBootstrapKubeconfig(t, p.bootstrap, ca)

	done := make(chan error, 1)
	go func() {
		_, err := start(t.Context(), testConfig(p), api.newClient)
		done <- err
	}()
	eventually(t, "a CSR", func() bool { return len(api.createdCSRs()) == 1 })
	if _, err := os.Lstat(p.kubeconfig); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kubeconfig written before the certificate was issued: %v", err)
	}
	api.approve()
	if err := <-done; err != nil {
		t.Fatalf("Start: %v", err)
	}
	if _, err := os.Stat(p.current); err != nil {
		t.Errorf("no current certificate: %v", err)
	}
}

func TestAnIdentityMismatchIsAnIdentityErrorNamingBothUsers(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	api.user.Username = "system:node:node-b"
	p := newPaths(t)
	certPEM, keyPEM := ca.nodeCert(t, "system:node:node-b", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	writeEmbeddedKubeconfig(t, p.kubeconfig, ca, certPEM, keyPEM)

	_, err := start(t.Context(), testConfig(p), api.newClient)

	var ie *IdentityError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T), want *IdentityError", err, err)
	}
	if ie.User != "system:node:node-b" || ie.Want != "system:node:node-a" || ie.File != p.kubeconfig {
		t.Errorf("IdentityError %+v", ie)
	}
	for _, s := range []string{"system:node:node-b", "system:node:node-a", p.kubeconfig} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
	if api.reviews != 1 {
		t.Errorf("self subject reviews: %d, want 1 (no retry of a mismatch)", api.reviews)
	}
}

func TestAUserOutsideSystemNodesIsAnIdentityError(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	api.user.Groups = []string{"system:authenticated"}
	p := newPaths(t)
	certPEM, keyPEM := ca.nodeCert(t, "system:node:"+testNode, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	writeEmbeddedKubeconfig(t, p.kubeconfig, ca, certPEM, keyPEM)

	_, err := start(t.Context(), testConfig(p), api.newClient)

	var ie *IdentityError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v, want *IdentityError", err)
	}
}

func TestRejectedCredentialsGiveAClearErrorNamingTheKubeconfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"403 Forbidden", apierrors.NewForbidden(schema.GroupResource{Group: "authentication.k8s.io", Resource: "selfsubjectreviews"}, "", errors.New("no")), 403},
		{"401 Unauthorized", apierrors.NewUnauthorized("Unauthorized"), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newTestCA(t)
			api := newFakeAPI(t, ca)
			api.reviewErr = tc.err
			p := newPaths(t)
			certPEM, keyPEM := ca.nodeCert(t, "system:node:"+testNode, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
			writeEmbeddedKubeconfig(t, p.kubeconfig, ca, certPEM, keyPEM)

			_, err := start(t.Context(), testConfig(p), api.newClient)

			var ce *CredentialsError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want *CredentialsError", err, err)
			}
			if ce.Code != tc.code || ce.File != p.kubeconfig {
				t.Errorf("CredentialsError code %d file %q", ce.Code, ce.File)
			}
			if !strings.Contains(err.Error(), p.kubeconfig) || ce.Hint == "" {
				t.Errorf("error %q does not name the kubeconfig and what to do", err)
			}
			if api.reviews != 1 {
				t.Errorf("self subject reviews: %d, want 1", api.reviews)
			}
		})
	}
}

func TestAnUnavailableAPIServerIsRetriedUntilItAnswers(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	api.reviewErr = apierrors.NewServiceUnavailable("etcd is down")
	p := newPaths(t)
	certPEM, keyPEM := ca.nodeCert(t, "system:node:"+testNode, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	writeEmbeddedKubeconfig(t, p.kubeconfig, ca, certPEM, keyPEM)
	cfg := testConfig(p)
	clk := cfg.Clock.(*clocktesting.FakeClock)

	done := make(chan error, 1)
	go func() {
		_, err := start(t.Context(), cfg, api.newClient)
		done <- err
	}()
	eventually(t, "a retry", func() bool {
		clk.Step(maxBackoff)
		api.mu.Lock()
		defer api.mu.Unlock()
		return api.reviews >= 2
	})
	api.mu.Lock()
	api.reviewErr = nil
	api.mu.Unlock()
	eventually(t, "Start to return", func() bool {
		clk.Step(maxBackoff)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			return true
		default:
			return false
		}
	})
}

func TestAValidKubeconfigIsUsedWithoutACSR(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	p := newPaths(t)
	writeBootstrapKubeconfig(t, p.bootstrap, ca)
	certPEM, keyPEM := ca.nodeCert(t, "system:node:"+testNode, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	writeEmbeddedKubeconfig(t, p.kubeconfig, ca, certPEM, keyPEM)
	before, err := os.ReadFile(p.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}

	got, err := start(t.Context(), testConfig(p), api.newClient)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if n := len(api.createdCSRs()); n != 0 {
		t.Errorf("CSRs made: %d, want 0", n)
	}
	after, err := os.ReadFile(p.kubeconfig)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("kubeconfig changed (%v)", err)
	}
	tc, err := rest.TLSConfigFor(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(presented(t, tc).Raw, firstCert(t, certPEM).Raw) {
		t.Errorf("the returned config does not present the kubeconfig's certificate")
	}
}

func TestAnExpiredKubeconfigIsReplacedThroughTheBootstrap(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	p := newPaths(t)
	writeBootstrapKubeconfig(t, p.bootstrap, ca)
	certPEM, keyPEM := ca.nodeCert(t, "system:node:"+testNode, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
	writeEmbeddedKubeconfig(t, p.kubeconfig, ca, certPEM, keyPEM)

	if _, err := start(t.Context(), testConfig(p), api.newClient); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if n := len(api.createdCSRs()); n != 1 {
		t.Errorf("CSRs made: %d, want 1", n)
	}
	kc, err := clientcmd.LoadFromFile(p.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if auth := kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo]; auth.ClientCertificate != p.current {
		t.Errorf("kubeconfig still holds %q, want %q", auth.ClientCertificate, p.current)
	}
}

func TestAnEmbeddedCertificateIsRotatedAndTheReturnedConfigPicksUpTheNewOne(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	api.hold = true
	p := newPaths(t)
	certPEM, keyPEM := ca.nodeCert(t, "system:node:"+testNode, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	writeEmbeddedKubeconfig(t, p.kubeconfig, ca, certPEM, keyPEM)
	cfg := testConfig(p)
	cfg.BootstrapKubeconfig = ""
	cfg.RotateCertificates = true
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	got, err := start(ctx, cfg, api.newClient)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if got.CertFile != p.current || got.KeyFile != p.current || len(got.CertData) != 0 {
		t.Errorf("returned config reads cert %q key %q (data %d bytes), want %q", got.CertFile, got.KeyFile, len(got.CertData), p.current)
	}
	tc, err := rest.TLSConfigFor(got)
	if err != nil {
		t.Fatal(err)
	}
	embedded := firstCert(t, certPEM)
	if !bytes.Equal(presented(t, tc).Raw, embedded.Raw) {
		t.Fatalf("before rotation the returned config does not present the kubeconfig's certificate")
	}
	if m := fileMode(t, p.current); m != 0o600 {
		t.Errorf("%s mode %v, want 0600", p.current, m)
	}

	eventually(t, "a rotation CSR", func() bool { return len(api.createdCSRs()) == 1 })
	api.approve()
	issued := firstCert(t, api.createdCSRs()[0].Status.Certificate)
	eventually(t, "the returned config to present the new certificate", func() bool {
		return presents(tc, issued)
	})
	if issued.Subject.CommonName != "system:node:"+testNode {
		t.Errorf("rotated certificate for %q", issued.Subject.CommonName)
	}
	if got := api.createdCSRs()[0].Spec.SignerName; got != certificatesv1.KubeAPIServerClientKubeletSignerName {
		t.Errorf("rotation signerName %q", got)
	}
	api.mu.Lock()
	last := api.configs[len(api.configs)-1]
	api.mu.Unlock()
	if !bytes.Equal(firstCert(t, last.CertData).Raw, embedded.Raw) {
		t.Errorf("the rotation CSR was not made with the current certificate")
	}
}

func TestAShortLivedBootstrappedCertificateIsRenewed(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	api.firstLife = time.Minute // issued an hour ago: past its rotation deadline at once
	p := newPaths(t)
	writeBootstrapKubeconfig(t, p.bootstrap, ca)
	cfg := testConfig(p)
	cfg.RotateCertificates = true
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	got, err := start(ctx, cfg, api.newClient)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	tc, err := rest.TLSConfigFor(got)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a renewal CSR", func() bool { return len(api.createdCSRs()) >= 2 })
	renewed := firstCert(t, api.createdCSRs()[1].Status.Certificate)
	eventually(t, "the returned config to present the renewed certificate", func() bool {
		return presents(tc, renewed)
	})
	kc, err := clientcmd.LoadFromFile(p.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if auth := kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo]; auth.ClientCertificate != p.current {
		t.Errorf("kubeconfig holds %q, want %q", auth.ClientCertificate, p.current)
	}
}

func TestAnExpiredBootstrapTokenIsACredentialsErrorNamingTheBootstrapKubeconfig(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	api.client.PrependReactor("create", "certificatesigningrequests", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewUnauthorized("Unauthorized")
	})
	p := newPaths(t)
	writeBootstrapKubeconfig(t, p.bootstrap, ca)

	_, err := start(t.Context(), testConfig(p), api.newClient)

	var ce *CredentialsError
	if !errors.As(err, &ce) || ce.Code != 401 || ce.File != p.bootstrap {
		t.Fatalf("error %v, want a 401 *CredentialsError for %s", err, p.bootstrap)
	}
	if _, err := os.Lstat(p.kubeconfig); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kubeconfig written without a certificate: %v", err)
	}
}

func TestStartWaitsForAKubeconfigToAppear(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	p := newPaths(t)
	cfg := testConfig(p)
	clk := cfg.Clock.(*clocktesting.FakeClock)
	done := make(chan error, 1)
	go func() {
		_, err := start(t.Context(), cfg, api.newClient)
		done <- err
	}()
	eventually(t, "Start to poll", clk.HasWaiters)
	writeBootstrapKubeconfig(t, p.bootstrap, ca)
	clk.Step(pollInterval)
	if err := <-done; err != nil {
		t.Fatalf("Start: %v", err)
	}
	if _, err := os.Stat(p.kubeconfig); err != nil {
		t.Errorf("no kubeconfig after the bootstrap: %v", err)
	}
}

func TestStartReturnsWhenTheContextEndsBeforeAnyKubeconfig(t *testing.T) {
	p := newPaths(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := start(ctx, testConfig(p), newFakeAPI(t, newTestCA(t)).newClient)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestACurrentLinkPointingOutsideTheCertDirIsRefused(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	p := newPaths(t)
	writeBootstrapKubeconfig(t, p.bootstrap, ca)
	if err := os.MkdirAll(p.certDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.dir+"/elsewhere.pem", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(p.dir+"/elsewhere.pem", p.current); err != nil {
		t.Fatal(err)
	}
	_, err := start(t.Context(), testConfig(p), api.newClient)
	if err == nil || !strings.Contains(err.Error(), "outside the cert dir") {
		t.Errorf("error %v, want a refusal of the link", err)
	}
	if n := len(api.createdCSRs()); n != 0 {
		t.Errorf("CSRs made: %d, want 0", n)
	}
}

func TestADeniedCSRIsACSRError(t *testing.T) {
	ca := newTestCA(t)
	api := newFakeAPI(t, ca)
	api.hold = true
	p := newPaths(t)
	writeBootstrapKubeconfig(t, p.bootstrap, ca)
	done := make(chan error, 1)
	go func() {
		_, err := start(t.Context(), testConfig(p), api.newClient)
		done <- err
	}()
	eventually(t, "a CSR", func() bool { return len(api.createdCSRs()) == 1 })
	api.mu.Lock()
	name := api.order[0]
	req := api.csrs[name]
	req.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateDenied, Status: "True", Reason: "NotMine"}}
	for _, w := range api.watchers {
		w.Modify(req.DeepCopy())
	}
	api.mu.Unlock()
	err := <-done
	var se *CSRError
	if !errors.As(err, &se) || se.Name != name || se.Reason != "NotMine" {
		t.Errorf("error %v, want a *CSRError for %s", err, name)
	}
}

func firstCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	certs, err := certutilParse(data)
	if err != nil || len(certs) == 0 {
		t.Fatalf("parse certificate: %v", err)
	}
	return certs[0]
}
