package main

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestFlagsBeforeOrAfterArgumentsAndShorthands(t *testing.T) {
	sock := serveFake(t, t.TempDir())
	want, _, err := runCLI("inspect", "--api-socket", sock, "-o", "yaml", "kube-system/etcd-cp1")
	if err != nil || !strings.Contains(want, "name: etcd-cp1") {
		t.Fatalf("inspect -o yaml POD: %v\n%s", err, want)
	}
	for _, args := range [][]string{
		{"inspect", "kube-system/etcd-cp1", "-o", "yaml", "--api-socket", sock},
		{"inspect", "kube-system/etcd-cp1", "--output=yaml", "--api-socket=" + sock},
		{"inspect", "--output", "yaml", "kube-system/etcd-cp1", "--api-socket", sock},
		{"inspect", "-oyaml", "kube-system/etcd-cp1", "--api-socket", sock},
	} {
		out, errOut, err := runCLI(args...)
		if err != nil || out != want {
			t.Errorf("%v: %v %s\n%s", args, err, errOut, out)
		}
	}
	for _, tc := range []struct{ short, long []string }{
		{[]string{"logs", "crashy", "-c", "main", "-p"}, []string{"logs", "--container=main", "--previous", "crashy"}},
		{[]string{"ps", "-o", "wide"}, []string{"ps", "--output", "wide"}},
	} {
		a, errA, err1 := runCLI(append(tc.short, "--api-socket", sock)...)
		b, errB, err2 := runCLI(append(tc.long, "--api-socket", sock)...)
		if a != b || errA != errB || (err1 == nil) != (err2 == nil) {
			t.Errorf("%v and %v differ:\n%s%s%v\n---\n%s%s%v", tc.short, tc.long, a, errA, err1, b, errB, err2)
		}
	}
}

func TestUsageErrorsNameTheFlagAndExit2(t *testing.T) {
	sock := serveFake(t, t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
		hint string // on stderr
	}{
		{[]string{"ps", "--api-socket", sock, "--no-such-flag"}, "--no-such-flag", `Run "bosun ps --help" for usage.`},
		{[]string{"logs", "crashy", "--tail", "many", "--api-socket", sock}, `invalid argument "many" for "--tail" flag`, `Run "bosun logs --help" for usage.`},
		{[]string{"logs", "crashy", "--api-socket", sock, "-c"}, "flag needs an argument: 'c' in -c", "bosun logs --help"},
		{[]string{"ps", "--api-socket", sock, "-o", "table"}, `--output must be wide, json or yaml, not "table"`, ""},
		{[]string{"ps", "extra", "--api-socket", sock}, `ps takes no arguments, got ["extra"]`, "bosun ps --help"},
		{[]string{"run", "--sync-frequency", "often"}, `invalid argument "often" for "--sync-frequency" flag`, "bosun run --help"},
		{[]string{"logs", "a", "b", "--api-socket", sock}, "logs needs one POD", "bosun logs --help"},
		{[]string{"frobnicate"}, `unknown command "frobnicate" for "bosun"`, "Usage:"},
	} {
		_, errOut, err := runCLI(tc.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (exit %d), want %q and exit 2", tc.args, err, exitCode(err), tc.want)
		}
		if !strings.Contains(errOut, tc.hint) {
			t.Errorf("%v: stderr %q, want %q", tc.args, errOut, tc.hint)
		}
	}
	if _, errOut, err := runCLI(); err == nil || exitCode(err) != 2 || !strings.Contains(errOut, "Usage:") {
		t.Errorf("no command: %v %q", err, errOut)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		out, _, err := runCLI(args...)
		if err != nil || out != "bosun "+version+"\n" {
			t.Errorf("%v: %q %v", args, out, err)
		}
	}
}

func TestSingleDashLongFlagsAsGoFlagTookThem(t *testing.T) {
	root := newRootCommand(io.Discard, io.Discard)
	for _, tc := range []struct{ in, want []string }{
		{[]string{"run", "-pod-manifest-path", "/m", "-root-dir=/r", "-v", "1"},
			[]string{"run", "--pod-manifest-path", "/m", "--root-dir=/r", "-v", "1"}},
		{[]string{"run", "-v=2", "-allow-symlinks", "-help"}, []string{"run", "-v=2", "--allow-symlinks", "--help"}},
		// Values are never rewritten, nor what follows "--", nor unknown names.
		{[]string{"logs", "-c", "-tail", "pod", "-tail", "5", "--", "-previous"},
			[]string{"logs", "-c", "-tail", "pod", "--tail", "5", "--", "-previous"}},
		{[]string{"logs", "pod", "-fp", "-c", "main", "-nosuch"}, []string{"logs", "pod", "-fp", "-c", "main", "-nosuch"}},
		{[]string{"wait", "-all", "-for=ready", "-timeout", "1m"}, []string{"wait", "--all", "--for=ready", "--timeout", "1m"}},
		{[]string{"-version"}, []string{"--version"}},
	} {
		if got := normalizeArgs(root, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("normalizeArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}

	// And through the whole CLI: the daemon's flags given Go's way parse.
	_, _, err := runCLI("run", "-log-format", "xml", "-root-dir", t.TempDir(), "-pod-logs-dir", t.TempDir())
	if err == nil || err.Error() != `--log-format must be text or json, not "xml"` {
		t.Errorf("run -log-format xml: %v, want the log format refused (so the flags parsed)", err)
	}
}

func TestRunHelpIsInSections(t *testing.T) {
	out, _, err := runCLI("run", "--help")
	if err != nil {
		t.Fatal(err)
	}
	// Every flag of bosun run is in a section, in the order of the sections.
	last := -1
	for _, s := range (&daemonFlags{}).sections() {
		head := strings.Index(out, "\n"+s.name+" flags:\n")
		if head < last {
			t.Errorf("section %q missing or out of order", s.name)
		}
		last = head
		body := out[head+len(s.name)+8:]
		if next := strings.Index(body, " flags:\n"); next > 0 {
			body = body[:next]
		}
		s.flags.VisitAll(func(f *pflag.Flag) {
			if !strings.Contains(body, "--"+f.Name+" ") {
				t.Errorf("--%s not in section %q", f.Name, s.name)
			}
		})
	}
	if !strings.Contains(out, "\nOther flags:\n\n  -h, --help") {
		t.Errorf("--help not listed:\n%s", out)
	}
	root, _, err := runCLI("--help")
	if err != nil || !strings.Contains(root, "The daemon:\n  run ") || !strings.Contains(root, "Manifests:\n  diff ") {
		t.Errorf("bosun --help does not group the commands: %v\n%s", err, root)
	}
}

func TestRunStartsWithAKubeadmFlagsFileAndNamesEachFlagItIgnoresInOneWarning(t *testing.T) {
	dir := t.TempDir()
	endpoint := "unix://" + dir + "/no-runtime.sock"
	// A line as kubeadm writes it, with kubeletExtraArgs of a dual-stack
	// node, as the kubeadm drop-in hands it to bosun run.
	env := envFile(t, `KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=`+endpoint+` --hostname-override=cp-1 --node-ip=192.0.2.10,2001:db8::10 --pod-infra-container-image=registry.k8s.io/pause:3.10 --register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule --node-labels=tier=control --cgroup-driver=systemd --container-runtime=remote --fail-swap-on=false --kubeconfig=/etc/kubernetes/kubelet.conf --register-node=true --max-pods=110"`)
	args := append([]string{"run"}, strings.Fields(env["KUBELET_KUBEADM_ARGS"])...)
	args = append(args, "--root-dir", dir+"/root", "--pod-logs-dir", dir+"/logs", "--container-log-links-dir", "", "--api-socket", "")
	_, errOut, err := runCLI(args...)
	// It got as far as the runtime: the endpoint of the file, which is not there.
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "container runtime endpoint "+endpoint) {
		t.Fatalf("bosun run %q: %v (exit %d), want it to fail dialing %s\n%s", args, err, exitCode(err), endpoint, errOut)
	}
	for _, w := range []struct{ msg, flags string }{
		{"its Node takes no pods", "--max-pods,--register-node"},
		{"set them in the runtime", "--container-runtime,--pod-infra-container-image"},
		{"bosun has no use for", "--fail-swap-on"},
	} {
		if !strings.Contains(errOut, w.msg) || !strings.Contains(errOut, "flags="+w.flags+"\n") {
			t.Errorf("no warning %q naming %s:\n%s", w.msg, w.flags, errOut)
		}
	}
	if n := strings.Count(errOut, "level=WARN msg=\"kubelet flags"); n != 3 {
		t.Errorf("%d warnings about kubelet flags, want 3:\n%s", n, errOut)
	}
}

func TestAPISideFlagsWithoutAKubeconfigAreAUsageError(t *testing.T) {
	for _, args := range [][]string{
		{"--node-labels", "tier=control"},
		{"--bootstrap-kubeconfig", "/etc/kubernetes/bootstrap-kubelet.conf"},
		{"--register-with-taints", "a:NoSchedule"},
	} {
		_, errOut, err := runCLI(append([]string{"run", "--api-socket", ""}, args...)...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), args[0]+" needs --kubeconfig") {
			t.Errorf("bosun run %v: %v (exit %d), want a usage error naming %s\n%s", args, err, exitCode(err), args[0], errOut)
		}
	}
	_, errOut, err := runCLI("run", "--api-socket", "", "--kubeconfig", "/k", "--node-labels", "node-role.kubernetes.io/control-plane=")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "node-role.kubernetes.io/control-plane") {
		t.Errorf("a label the node may not set on itself: %v (exit %d)\n%s", err, exitCode(err), errOut)
	}
}
