package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// systemdWords splits s into words as systemd splits a command line or an
// Environment= setting: white space separates, double and single quotes
// group, a backslash escapes the next character.
func systemdWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\\' && quote != '\'':
			if i++; i == len(rs) {
				t.Fatalf("%q ends in a backslash", s)
			}
			w.WriteRune(rs[i])
			inWord = true
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("%q: unterminated quote", s)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// unitSettings reads the [Service] settings of a unit file or drop-in in
// order, joining lines continued by a backslash and dropping comments.
func unitSettings(t *testing.T, text string) [][2]string {
	t.Helper()
	var settings [][2]string
	section := ""
	text = strings.ReplaceAll(text, "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("not a setting: %q", line)
			}
			settings = append(settings, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	return settings
}

// envFile reads an environment file as systemd does: KEY=VALUE lines, the
// value unquoted (a double-quoted value may escape characters with a
// backslash), comments and blank lines skipped.
func envFile(t *testing.T, text string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("not an assignment: %q", line)
		}
		v = strings.TrimSpace(v)
		switch {
		case len(v) > 1 && v[0] == '\'' && v[len(v)-1] == '\'':
			v = v[1 : len(v)-1]
		case len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"':
			v = regexp.MustCompile(`\\(.)`).ReplaceAllString(v[1:len(v)-1], "$1")
		}
		env[strings.TrimSpace(k)] = v
	}
	return env
}

// execStart is the command line systemd runs for a unit and its drop-ins:
// the last ExecStart= (an empty one resets the list), with $NAME as a word
// replaced by the words of NAME's value and ${NAME} by the value. Environment
// files are read from files, by path; a missing one must be optional ("-").
func execStart(t *testing.T, files map[string]string, units ...string) []string {
	t.Helper()
	env := map[string]string{}
	var fromFiles []map[string]string
	var cmds []string
	for _, u := range units {
		for _, s := range unitSettings(t, u) {
			switch k, v := s[0], s[1]; k {
			case "Environment":
				for _, a := range systemdWords(t, v) {
					name, value, _ := strings.Cut(a, "=")
					env[name] = value
				}
			case "EnvironmentFile":
				path, optional := strings.CutPrefix(v, "-")
				text, ok := files[path]
				if !ok && !optional {
					t.Fatalf("EnvironmentFile %s is missing and not optional", path)
				}
				if ok {
					fromFiles = append(fromFiles, envFile(t, text))
				}
			case "ExecStart":
				if v == "" {
					cmds = nil
				} else {
					cmds = append(cmds, v)
				}
			}
		}
	}
	// The files' assignments win over Environment=, a later file's over an
	// earlier one's.
	for _, f := range fromFiles {
		for k, v := range f {
			env[k] = v
		}
	}
	if len(cmds) != 1 {
		t.Fatalf("%d ExecStart= lines, want one: %q", len(cmds), cmds)
	}
	whole := regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)$`)
	braced := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	var argv []string
	for _, w := range systemdWords(t, cmds[0]) {
		if m := whole.FindStringSubmatch(w); m != nil {
			argv = append(argv, strings.Fields(env[m[1]])...)
			continue
		}
		argv = append(argv, braced.ReplaceAllStringFunc(w, func(s string) string { return env[s[2:len(s)-1]] }))
	}
	return argv
}

// parseRunLine parses argv, a command line starting with bosun's path, as bosun
// run would, without running it; it returns the parsed command.
func parseRunLine(t *testing.T, argv []string) *cobra.Command {
	t.Helper()
	if len(argv) < 2 || argv[1] != "run" {
		t.Fatalf("%q is not bosun run", argv)
	}
	root := newRootCommand(io.Discard, io.Discard)
	args := normalizeArgs(root, argv[1:])
	cmd, rest, err := root.Find(args)
	if err != nil || cmd.Name() != "run" {
		t.Fatalf("%q: %v", argv, err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("bosun run refuses %q: %v", argv, err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		t.Fatalf("bosun run refuses %q: %v", argv, err)
	}
	return cmd
}

func readExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/systemd/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTheKubeadmDropInRunsBosunWithTheKubeletsFlagsFromKubeadmsFiles(t *testing.T) {
	unit, dropIn := readExample(t, "bosun.service"), readExample(t, "10-kubeadm.conf")
	// As kubeadm init writes it (Go's %q of the joined flags).
	kubeadmFlags := `KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/k/containerd.sock --hostname-override=cp-1 --node-ip=192.0.2.10,2001:db8::10 --node-labels=tier=control,zone=a --register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule --pod-infra-container-image=registry.k8s.io/pause:3.10"` + "\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  map[string]string // flag values
	}{
		{"without kubeadm's files, bosun reads the KubeletConfiguration", map[string]string{},
			map[string]string{"config": "/var/lib/kubelet/config.yaml", "kubeconfig": "/etc/kubernetes/kubelet.conf",
				"bootstrap-kubeconfig": "/etc/kubernetes/bootstrap-kubelet.conf", "hostname-override": ""}},
		{"kubeadm-flags.env's flags reach bosun", map[string]string{"/var/lib/kubelet/kubeadm-flags.env": kubeadmFlags},
			map[string]string{"config": "/var/lib/kubelet/config.yaml", "container-runtime-endpoint": "unix:///run/k/containerd.sock",
				"hostname-override": "cp-1", "node-ip": "192.0.2.10,2001:db8::10", "node-labels": "tier=control,zone=a",
				"pod-infra-container-image": "registry.k8s.io/pause:3.10"}},
		{"KUBELET_EXTRA_ARGS win over kubeadm's, BOSUN_ARGS over both", map[string]string{
			"/var/lib/kubelet/kubeadm-flags.env": kubeadmFlags,
			"/etc/default/kubelet":               "KUBELET_EXTRA_ARGS=--node-ip=192.0.2.11 --fail-swap-on=false --max-pods=10\n",
			"/etc/default/bosun":                 "# bosun's own flags\nBOSUN_ARGS=\"--hostname-override=cp-one --rollback-on-failure\"\n",
		}, map[string]string{"hostname-override": "cp-one", "node-ip": "192.0.2.11", "fail-swap-on": "false",
			"rollback-on-failure": "true", "container-runtime-endpoint": "unix:///run/k/containerd.sock"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := execStart(t, tc.files, unit, dropIn)
			if argv[0] != "/usr/local/bin/bosun" {
				t.Errorf("ExecStart runs %s, want /usr/local/bin/bosun (make install rewrites it)", argv[0])
			}
			fs := parseRunLine(t, argv).Flags()
			for name, want := range tc.want {
				if got := fs.Lookup(name).Value.String(); got != want {
					t.Errorf("--%s is %q, want %q (command line %q)", name, got, want, argv)
				}
			}
		})
	}

	// The unit alone runs bosun with BOSUN_ARGS and nothing of the kubelet's.
	argv := execStart(t, map[string]string{"/etc/default/bosun": `BOSUN_ARGS="--pod-manifest-path=/srv/manifests"`}, unit)
	if want := []string{"/usr/local/bin/bosun", "run", "--pod-manifest-path=/srv/manifests"}; !slices.Equal(argv, want) {
		t.Errorf("bosun.service alone runs %q, want %q", argv, want)
	}
	parseRunLine(t, argv)
}

func TestEveryKubeletFlagIsAcceptedAndAnIgnoredOneIsNamedInOneWarning(t *testing.T) {
	root := newRootCommand(io.Discard, io.Discard)
	run, _, _ := root.Find([]string{"run"})
	var args []string
	for _, k := range kubeletFlags {
		if _, ignored := run.Flags().Lookup(k.name).Value.(*ignoredValue); !ignored {
			continue // bosun run's own flag, of its own type
		}
		if k.boolean {
			args = append(args, "--"+k.name)
		} else {
			args = append(args, "--"+k.name+"=x")
		}
	}
	// Given twice, as KUBELET_EXTRA_ARGS may repeat kubeadm's flags.
	fs := parseRunLine(t, append(append([]string{"bosun", "run"}, args...), args...)).Flags()
	var buf bytes.Buffer
	warnKubeletFlags(slog.New(slog.NewTextHandler(&buf, nil)), fs)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) > 3 {
		t.Errorf("%d warnings, want one per kind of flag:\n%s", len(lines), buf.String())
	}
	for _, k := range kubeletFlags {
		f := fs.Lookup(k.name)
		if _, ignored := f.Value.(*ignoredValue); !ignored {
			continue // bosun run's own flag
		}
		if n := strings.Count(buf.String(), "--"+k.name+","); n+strings.Count(buf.String(), "--"+k.name+"\n") != 1 {
			t.Errorf("--%s named %d times in the warnings, want once:\n%s", k.name, n, buf.String())
		}
	}
	for _, ours := range []string{"container-runtime-endpoint", "hostname-override", "node-ip", "cgroup-driver", "config"} {
		if strings.Contains(buf.String(), "--"+ours+",") || strings.Contains(buf.String(), "--"+ours+"\n") {
			t.Errorf("--%s, which bosun honours, is said to be ignored:\n%s", ours, buf.String())
		}
	}

	// A boolean kubelet flag takes a boolean, as the kubelet's does.
	if err := run.ParseFlags([]string{"--fail-swap-on=maybe"}); err == nil {
		t.Error("--fail-swap-on=maybe accepted")
	}
}

func TestPrimaryNodeIPIsTheFirstOfADualStackPair(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"192.0.2.1", "192.0.2.1", ""},
		{"2001:db8::1", "2001:db8::1", ""},
		{"192.0.2.1,2001:db8::1", "192.0.2.1", ""},
		{"2001:db8::1,192.0.2.1", "2001:db8::1", ""},
		{"node1.example", "", `--node-ip "node1.example": not an IP address`},
		{"192.0.2.1,192.0.2.2", "", "one IPv4 and one IPv6"},
		{"192.0.2.1,x", "", `"x" is not an IP address`},
		{"192.0.2.1,2001:db8::1,192.0.2.2", "", "at most two"},
	} {
		got, err := primaryNodeIP(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("primaryNodeIP(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}
