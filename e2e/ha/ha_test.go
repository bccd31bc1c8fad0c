package ha

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/bosun-sh/bosun/e2e/internal/apiprober"
	"github.com/bosun-sh/bosun/e2e/internal/cpkit"
	"github.com/bosun-sh/bosun/e2e/internal/frontdoor"
)

// ignored are the preflight checks of kubeadm init and join a node run by
// bosun fails, each because it runs `kubelet --version` and there is no
// kubelet binary: bosun is the node agent (docs/control-plane.md).
var ignored = []string{"KubeletVersion", "SystemVerification"}

// shutdownDelay is kube-apiserver's --shutdown-delay-duration: once told
// to stop, it fails /readyz at once but serves on for this long, so that the
// load balancer (checking every 200 ms) stops sending it requests before it
// stops accepting them. Without it a request that reaches it in between is
// answered 503 "apiserver is shutting down" (seen in this test's rolling
// upgrade). Kubernetes documents the flag for this; with haproxy's checks
// (inter 2s fall 2, say) it would be 5 s.
const shutdownDelay = "2s"

// token is the bootstrap token init makes and the joins use.
const token = "bosunh.0123456789abcdef"

// measured rows, printed at the end as a table.
type measured struct{ rows [][2]string }

func (m *measured) add(what string, v any) { m.rows = append(m.rows, [2]string{what, fmt.Sprint(v)}) }

func (m *measured) print() {
	fmt.Printf("\nha: measured (%d nodes, kubeadm %s, bosun)\n\n| | |\n|---|---|\n", numNodes, kubeVersion)
	for _, r := range m.rows {
		fmt.Printf("| %s | %s |\n", r[0], r[1])
	}
	fmt.Println()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// cluster is the HA control plane the test makes and breaks.
type cluster struct {
	m    *measured
	door *frontdoor.Door
	kc   kubernetes.Interface
	api  *apiprober.Client
	// probers are every step's client, by the prefix of its objects: all
	// that they wrote must outlive quorum's loss.
	probers map[string]*apiprober.Prober
}

func TestHA(t *testing.T) {
	c := &cluster{m: &measured{}}
	defer c.m.print()
	var err error
	backends := make([]string, len(nodes))
	for i, n := range nodes {
		backends[i] = n.ip + ":6443"
	}
	c.door, err = frontdoor.New(frontdoor.Config{VIP: vip, Prefix: 24, Port: vipPort, Dev: "eth0", Backends: backends, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.door.Close()
	if err := c.door.MoveTo(nodes[0].netnsPath()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			for _, n := range nodes {
				if n.bosun != nil {
					t.Logf("%s: bosun log (tail):\n%s", n.name, tail(n.log(), 60))
				}
			}
		}
	}()
	for _, step := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"Init", c.init},
		{"Join", c.join},
		{"BosunKilled", c.bosunKilled},
		{"NodeLost", c.nodeLost},
		{"NodeBack", c.nodeBack},
		{"RollingUpgrade", c.rollingUpgrade},
		{"QuorumLost", c.quorumLost},
	} {
		if !t.Run(step.name, step.run) {
			t.Fatalf("%s failed: the steps after it need what it makes", step.name)
		}
	}
}

// init runs kubeadm init on the first node with the VIP as the
// control-plane endpoint and the certificates uploaded for the joins.
func (c *cluster) init(t *testing.T) {
	n := nodes[0]
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfg := fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: %s
  ttl: 1h
certificateKey: %s
localAPIEndpoint:
  advertiseAddress: %s
  bindPort: 6443
nodeRegistration:
  name: %s
  criSocket: unix://%s
  ignorePreflightErrors: [%s]
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: %s
controlPlaneEndpoint: %s:%d
apiServer:
  extraArgs:
  - name: shutdown-delay-duration
    value: %s
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
resolvConf: /etc/resolv.conf
`, token, hex.EncodeToString(key), n.ip, n.name, n.containerdSock(), strings.Join(ignored, ","), kubeVersion, vip, vipPort, shutdownDelay)
	file := filepath.Join(work, "init.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "certificate-key"), []byte(hex.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, took := n.kubeadm(t, 8*time.Minute, "init", "--config", file, "--upload-certs")
	c.m.add("`kubeadm init --control-plane-endpoint VIP --upload-certs` on "+n.name, secs(took))
	var err error
	if c.kc, err = cpkit.Clientset(n.hostPath("/etc/kubernetes/admin.conf"), nil); err != nil {
		t.Fatal(err)
	}
	if c.api, err = apiprober.NewClient(n.hostPath("/etc/kubernetes/admin.conf")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.api.Server(), fmt.Sprintf("%s:%d", vip, vipPort)) {
		t.Fatalf("admin.conf's server is %s, not the endpoint %s:%d", c.api.Server(), vip, vipPort)
	}
	took = waitCluster(t, c.kc, nodes[:1], 2*time.Minute, "after kubeadm init")
	c.m.add("kubeadm init done → Node Ready, four mirror pods matching bosun", secs(took))
}

// join joins the other nodes as control-plane nodes, one at a time, each
// through TLS bootstrap (kubeadm writes bootstrap-kubelet.conf, bosun turns
// it into kubelet.conf) and with its etcd joined as a learner and promoted.
func (c *cluster) join(t *testing.T) {
	key, err := os.ReadFile(filepath.Join(work, "certificate-key"))
	if err != nil {
		t.Fatal(err)
	}
	hash, err := caCertHash(nodes[0].hostPath("/etc/kubernetes/pki/ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes[1:] {
		cfg := fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: %s:%d
    token: %s
    caCertHashes: [%s]
controlPlane:
  certificateKey: %s
  localAPIEndpoint:
    advertiseAddress: %s
    bindPort: 6443
nodeRegistration:
  name: %s
  criSocket: unix://%s
  ignorePreflightErrors: [%s]
`, vip, vipPort, token, hash, key, n.ip, n.name, n.containerdSock(), strings.Join(ignored, ","))
		file := filepath.Join(work, "join-"+n.name+".yaml")
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		learner := watchLearner(nodes[0], n)
		out, took := n.kubeadm(t, 10*time.Minute, "join", "--config", file)
		if !learner() {
			t.Errorf("%s: its etcd member was never seen as a learner during the join", n.name)
		}
		if !strings.Contains(out, "This node has joined the cluster and a new control plane instance was created") {
			t.Errorf("%s: kubeadm join's output does not say a control-plane instance was made:\n%s", n.name, tail(out, 20))
		}
		c.m.add(fmt.Sprintf("`kubeadm join --control-plane` of %s", n.name), secs(took))
		if exists(n.hostPath("/etc/kubernetes/bootstrap-kubelet.conf")) {
			t.Errorf("%s: bootstrap-kubelet.conf is still there after the join", n.name)
		}
		if !exists(n.hostPath("/var/lib/kubelet/pki/kubelet-client-current.pem")) {
			t.Errorf("%s: no kubelet-client-current.pem: the TLS bootstrap did not go through bosun", n.name)
		}
		took = waitCluster(t, c.kc, nodes[:i+2], 3*time.Minute, "after the join of "+n.name)
		c.m.add(fmt.Sprintf("… join done → %d Nodes Ready, %d mirror pods matching", i+2, 4*(i+2)), secs(took))
	}
	c.checkEtcd(t, 2*time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := nodes[0].bosunCLI(ctx, "ps"); err == nil {
		t.Logf("%s: bosun ps:\n%s", nodes[0].name, out)
	}
}

// watchLearner polls from's etcd member list every 100 ms until the
// returned function is called, which says whether joining's member (by its
// peer URL) was seen as a learner: kubeadm adds a member as a learner and
// promotes it once it has caught up.
func watchLearner(from, joining *node) func() bool {
	stop, done := make(chan struct{}), make(chan bool, 1)
	go func() {
		seen := false
		defer func() { done <- seen }()
		e, err := from.etcd()
		if err != nil {
			return
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ms, _ := e.members(ctx)
			cancel()
			for _, m := range ms {
				if m.IsLearner && strings.Contains(strings.Join(m.PeerURLs, ","), "https://"+joining.ip+":2380") {
					seen = true
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() bool { close(stop); return <-done }
}

// checkEtcd waits until every node's etcd lists numNodes started voting
// members, one per node.
func (c *cluster) checkEtcd(t *testing.T, timeout time.Duration) {
	t.Helper()
	for _, n := range nodes {
		e, err := n.etcd()
		if err != nil {
			t.Fatal(err)
		}
		var last string
		var ms []etcdMember
		eventually(t, timeout, n.name+": etcd member list", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if ms, err = e.members(ctx); err != nil {
				last = err.Error()
				return false
			}
			last = membersMismatch(ms)
			return last == ""
		})
		if last != "" {
			t.Fatalf("%s: etcd members: %s", n.name, last)
		}
		if n == nodes[0] {
			var lines []string
			for _, m := range ms {
				lines = append(lines, m.String())
			}
			t.Logf("etcd member list (from %s):\n%s", n.name, strings.Join(lines, "\n"))
		}
	}
}

// caCertHash is kubeadm's --discovery-token-ca-cert-hash of a CA
// certificate: the SHA-256 of its public key info.
func caCertHash(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return "", fmt.Errorf("%s: no PEM block", file)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// startProber starts a client writing and reading a ConfigMap through the
// endpoint every 100 ms.
func (c *cluster) startProber(name string) *apiprober.Prober {
	p := apiprober.Start(c.api, "default", probePrefix(name), 100*time.Millisecond)
	if c.probers == nil {
		c.probers = map[string]*apiprober.Prober{}
	}
	c.probers[probePrefix(name)] = p
	return p
}

// probePrefix names a step's objects after the step: TestHA/NodeLost →
// ha-nodelost.
func probePrefix(testName string) string {
	return "ha-" + strings.ToLower(testName[strings.LastIndex(testName, "/")+1:])
}

// failedRounds reports the failed rounds in [from, to].
func failedRounds(rounds []apiprober.Round, from, to time.Time) (int, int, error) {
	total := 0
	for _, r := range rounds {
		if !r.At.Before(from) && !r.At.After(to) {
			total++
		}
	}
	n, first := apiprober.Failures(rounds, from, to)
	return n, total, first
}

// bosunKilled: kill -9 of one node's bosun and a restart change nothing: no
// failed request, no container of any node restarted, no mirror pod made
// again.
func (c *cluster) bosunKilled(t *testing.T) {
	n := nodes[1]
	snap := func() map[string]map[string]string {
		out := map[string]map[string]string{}
		for _, n := range nodes {
			out[n.name] = map[string]string{}
			for name, ct := range n.containers(t) {
				out[n.name][name] = fmt.Sprintf("%s/%d", ct.Id, ct.Metadata.Attempt)
			}
		}
		return out
	}
	before := snap()
	uids := mirrorUIDs(t, c.kc)
	p := c.startProber(t.Name())
	start := time.Now()
	n.killBosun(t, syscall.SIGKILL)
	time.Sleep(time.Second)
	n.startBosun(t)
	waitCluster(t, c.kc, nodes, 2*time.Minute, "after bosun was killed on "+n.name)
	// Long enough for the new bosun's later syncs and probes to have
	// restarted anything they would.
	time.Sleep(10 * time.Second)
	rounds := p.Stop()
	if got, want := fmt.Sprint(snap()), fmt.Sprint(before); got != want {
		t.Errorf("containers changed after bosun was killed on %s:\nbefore %s\nafter  %s", n.name, want, got)
	}
	if got := mirrorUIDs(t, c.kc); fmt.Sprint(got) != fmt.Sprint(uids) {
		t.Errorf("mirror pods were made again:\nbefore %v\nafter  %v", uids, got)
	}
	failed, total, first := failedRounds(rounds, start, time.Now())
	c.m.add(fmt.Sprintf("bosun killed (-9) on %s and started again: failed rounds", n.name), fmt.Sprintf("%d of %d", failed, total))
	if failed > 0 {
		t.Errorf("%d of %d rounds failed; first: %v", failed, total, first)
	}
}

// nodeLost: the node holding the VIP loses power. The VIP moves to a live
// node after keepalived's master-down interval; the API serves through the
// other two; the lost node's Node goes NotReady.
func (c *cluster) nodeLost(t *testing.T) {
	lost, next := nodes[0], nodes[1]
	if c.door.Holder() != lost.netnsPath() {
		t.Fatalf("the VIP is on %s, not on %s", c.door.Holder(), lost.netns)
	}
	p := c.startProber(t.Name())
	time.Sleep(time.Second)
	start := time.Now()
	lost.powerOff()
	// keepalived's default: an advertisement a second, and a backup takes
	// over after three missed ones.
	time.Sleep(3 * time.Second)
	if err := c.door.MoveTo(next.netnsPath()); err != nil {
		t.Fatal(err)
	}
	moved := time.Since(start)
	var firstFail, back time.Time
	eventually(t, 2*time.Minute, "writes through the VIP to succeed again", func() bool {
		firstFail, back = apiprober.Outage(p.Rounds(), start)
		return !back.IsZero() || (firstFail.IsZero() && time.Since(start) > 10*time.Second)
	})
	// The API keeps serving from then on.
	time.Sleep(5 * time.Second)
	eventually(t, 3*time.Minute, lost.name+"'s Node NotReady", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return nodeMismatch(ctx, c.kc, lost.name, false) == ""
	})
	notReady := time.Since(start)
	rounds := p.Stop()
	firstFail, back = apiprober.Outage(rounds, start)
	if firstFail.IsZero() || back.IsZero() {
		t.Fatalf("no outage seen though the VIP's holder lost power (first failure %v, back %v): the client does not go through the VIP", firstFail, back)
	}
	failed, total, first := failedRounds(rounds, start, time.Now())
	t.Logf("%d of %d rounds failed from the power loss on; first: %v", failed, total, first)
	down := back.Sub(start)
	c.m.add(fmt.Sprintf("%s (VIP holder) lost: failed rounds / writes succeed again after the loss (VIP moved at %s)", lost.name, secs(moved)),
		fmt.Sprintf("%d of %d / %s", failed, total, secs(down)))
	c.m.add(lost.name+" lost → its Node NotReady in the API", secs(notReady))
	// Once writes succeed again they keep succeeding: nothing fails after
	// the first good round past the first failure (and 2 s for rounds
	// already on their way to the lost node).
	var firstOK time.Time
	for _, r := range rounds {
		if r.At.After(firstFail) && r.Err == nil {
			firstOK = r.At
			break
		}
	}
	if late, lateErr := apiprober.Failures(rounds, firstOK.Add(2*time.Second), time.Now()); late > 0 {
		t.Logf("first failure of the later ones: %v", lateErr)
		t.Errorf("%d rounds failed after the API was back through %s and %s", late, next.name, nodes[2].name)
	}
}

// nodeBack: the lost node comes back as after a reboot (containerd's root
// kept, every container dead, bosun started by its unit): its etcd
// rejoins, its apiserver serves, its Node is Ready again.
func (c *cluster) nodeBack(t *testing.T) {
	n := nodes[0]
	p := c.startProber(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := n.boot(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n.startBosun(t)
	apiReady, etcdSync := c.waitMember(t, n, start)
	waitCluster(t, c.kc, nodes, 3*time.Minute, "after "+n.name+" came back")
	matched := time.Since(start)
	rounds := p.Stop()
	failed, total, first := failedRounds(rounds, start, time.Now())
	if failed > 0 {
		t.Logf("%d of %d rounds failed while %s came back; first: %v", failed, total, n.name, first)
	}
	c.m.add(n.name+" back (reboot): bosun start → its apiserver ready / its etcd in sync", secs(apiReady)+" / "+secs(etcdSync))
	c.m.add("… → Node Ready and its mirror pods matching / failed rounds meanwhile", secs(matched)+fmt.Sprintf(" / %d of %d", failed, total))
}

// waitMember waits for a node's apiserver to be ready (its /readyz, not
// through the VIP) and its etcd member to have applied what the leader had
// committed, and returns both times from start.
func (c *cluster) waitMember(t *testing.T, n *node, start time.Time) (apiReady, etcdSync time.Duration) {
	t.Helper()
	e, err := n.etcd()
	if err != nil {
		t.Fatal(err)
	}
	leaderOf := func() *etcdClient {
		for _, o := range nodes {
			if o == n {
				continue
			}
			if oe, err := o.etcd(); err == nil {
				return oe
			}
		}
		return nil
	}()
	eventually(t, 5*time.Minute, n.name+"'s apiserver and etcd", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if apiReady == 0 && apiserverReady(ctx, n.ip) == nil {
			apiReady = time.Since(start)
		}
		if etcdSync == 0 {
			ref, err := leaderOf.status(ctx)
			if err == nil {
				s, err := e.status(ctx)
				if err == nil && s.Leader != 0 && !s.IsLearner && s.RaftAppliedIndex >= ref.RaftIndex {
					etcdSync = time.Since(start)
				}
			}
		}
		return apiReady != 0 && etcdSync != 0
	})
	return apiReady, etcdSync
}

// rollingUpgrade edits kube-apiserver.yaml on one node at a time, each
// Ready (bosun wait) before the next: no request through the VIP fails.
func (c *cluster) rollingUpgrade(t *testing.T) {
	p := c.startProber(t.Name())
	start := time.Now()
	for _, n := range nodes {
		c.upgradeOne(t, n)
	}
	time.Sleep(time.Second)
	rounds := p.Stop()
	failed, total, first := failedRounds(rounds, start, time.Now())
	c.m.add("rolling kube-apiserver.yaml edit, one node at a time: failed rounds / time", fmt.Sprintf("%d of %d / %s", failed, total, secs(time.Since(start))))
	if failed > 0 {
		t.Errorf("%d of %d rounds failed during the rolling upgrade; first: %v", failed, total, first)
	}
	waitCluster(t, c.kc, nodes, 2*time.Minute, "after the rolling upgrade")
}

// upgradeOne adds a flag to the node's kube-apiserver.yaml (in place, as an
// editor does), waits until bosun runs the new version and then for it to
// be Ready with bosun wait.
func (c *cluster) upgradeOne(t *testing.T, n *node) {
	t.Helper()
	file := n.hostPath("/etc/kubernetes/manifests/kube-apiserver.yaml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "    - kube-apiserver\n"
	if !strings.Contains(string(b), anchor) {
		t.Fatalf("%s: no %q in kube-apiserver.yaml", n.name, anchor)
	}
	pod := "kube-apiserver-" + n.name
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	old, err := n.bosunPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), anchor, anchor+"    - --goaway-chance=0\n", 1)
	start := time.Now()
	if err := os.WriteFile(file, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, n.name+": bosun to run the edited kube-apiserver.yaml", func() bool {
		ps, err := n.bosunPods(ctx)
		return err == nil && ps[pod].UID != "" && ps[pod].UID != old[pod].UID
	})
	if out, err := n.bosunCLI(ctx, "wait", pod, "--for=ready", "--timeout", "3m"); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("%s: bosun wait %s --for=ready: %v\n%s", n.name, pod, time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
	}
	c.m.add(n.name+": kube-apiserver.yaml edited → bosun wait --for=ready returns", secs(time.Since(start)))
}

// quorumLost: two nodes lose power; the API is down while etcd has no
// quorum and comes back, with every object written before, once they are
// back.
func (c *cluster) quorumLost(t *testing.T) {
	holder := nodes[1]
	if c.door.Holder() != holder.netnsPath() {
		t.Fatalf("the VIP is on %s, not on %s", c.door.Holder(), holder.netns)
	}
	down := []*node{nodes[0], nodes[2]}
	p := c.startProber(t.Name())
	time.Sleep(2 * time.Second)
	lossAt := time.Now()
	for _, n := range down {
		n.powerOff()
	}
	// The API is down once etcd's leader has seen it has no quorum: every
	// round fails from some point on.
	eventually(t, time.Minute, "the API to go down without quorum", func() bool {
		rs := p.Rounds()
		if len(rs) < 5 {
			return false
		}
		for _, r := range rs[len(rs)-5:] {
			if r.At.Before(lossAt) || r.Err == nil {
				return false
			}
		}
		return true
	})
	downAt := time.Now()
	firstFail, _ := apiprober.Outage(p.Rounds(), lossAt)
	time.Sleep(10 * time.Second)
	for _, r := range p.Rounds() {
		if r.At.After(downAt) && r.Err == nil {
			t.Errorf("a round passed without quorum: %+v", r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	backAt := time.Now()
	for _, n := range down {
		if err := n.boot(ctx); err != nil {
			t.Fatal(err)
		}
		n.startBosun(t)
	}
	var back time.Time
	eventually(t, 5*time.Minute, "writes through the VIP to succeed again", func() bool {
		_, back = apiprober.Outage(p.Rounds(), lossAt)
		return !back.IsZero()
	})
	time.Sleep(2 * time.Second)
	p.Stop()
	// Every object any step's client wrote (its POST answered 201) before
	// the first failure is there.
	total, lost := 0, 0
	for prefix, pr := range c.probers {
		written := apiprober.Written(pr.Rounds(), firstFail)
		missing, err := c.api.Missing(ctx, "default", prefix, written)
		if err != nil {
			t.Fatal(err)
		}
		if len(missing) > 0 {
			t.Errorf("%d of %d objects %s-* written before quorum was lost are gone: %v", len(missing), len(written), prefix, missing)
		}
		total, lost = total+len(written), lost+len(missing)
	}
	if total < 100 {
		t.Errorf("only %d objects were written before quorum was lost: the steps' clients did not write", total)
	}
	c.m.add("quorum lost (2 of 3 nodes off): first failed round after the loss / objects written before (all steps) and found after", secs(firstFail.Sub(lossAt))+fmt.Sprintf(" / %d of %d", total-lost, total))
	c.m.add("… both nodes back (bosun started) → writes succeed again", secs(back.Sub(backAt)))
	waitCluster(t, c.kc, nodes, 3*time.Minute, "after quorum came back")
	c.checkEtcd(t, time.Minute)
}
