// Package deb tests what hack/deb.sh and make install put on a node: the
// Debian package built from the tree, unpacked into a scratch root, and make
// install's PREFIX and DESTDIR. BOSUN_BIN names the binary to package (make
// package-test gives bin/bosun); without it the test builds one.
package deb

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// repoRoot is the root of bosun's tree, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// bosunBinary is $BOSUN_BIN, or a bosun built into a temporary directory.
func bosunBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("BOSUN_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "bosun")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version=v0.0.0-test", "-o", bin, "./cmd/bosun")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// output runs a command and returns its standard output.
func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, stderr.String())
	}
	return string(out)
}

// entry is a file of the package as dpkg-deb -c lists it.
type entry struct{ mode, owner string }

// listing parses dpkg-deb -c: mode, owner/group, size, date, time, path.
func listing(t *testing.T, deb string) map[string]entry {
	t.Helper()
	files := map[string]entry{}
	sc := bufio.NewScanner(strings.NewReader(output(t, "dpkg-deb", "-c", deb)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 6 {
			t.Fatalf("dpkg-deb -c: unexpected line %q", sc.Text())
		}
		files[strings.TrimPrefix(f[5], ".")] = entry{f[0], f[1]}
	}
	return files
}

// wantFiles are the package's regular files and their modes.
var wantFiles = map[string]string{
	"/usr/bin/bosun":                                  "-rwxr-xr-x",
	"/usr/lib/systemd/system/bosun.service":           "-rw-r--r--",
	"/usr/share/bosun/10-kubeadm.conf":                "-rw-r--r--",
	"/usr/share/bash-completion/completions/bosun":    "-rw-r--r--",
	"/usr/share/zsh/vendor-completions/_bosun":        "-rw-r--r--",
	"/usr/share/fish/vendor_completions.d/bosun.fish": "-rw-r--r--",
	"/usr/share/doc/bosun/copyright":                  "-rw-r--r--",
}

func TestTheDebianPackageHoldsBosunItsUnitAndCompletionsOwnedByRootWithTheirModes(t *testing.T) {
	bin := bosunBinary(t)
	out := t.TempDir()
	// The modes must not depend on the umask of whoever builds the package.
	defer syscall.Umask(syscall.Umask(0o077))
	deb := strings.TrimSpace(output(t, filepath.Join(repoRoot(t), "hack/deb.sh"), bin, out))
	_, binVersion, _ := strings.Cut(strings.TrimSpace(output(t, bin, "version")), " ")

	if got := output(t, "dpkg-deb", "-f", deb, "Package"); got != "bosun\n" {
		t.Errorf("Package: %q", got)
	}
	version := strings.TrimSpace(output(t, "dpkg-deb", "-f", deb, "Version"))
	if !regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`).MatchString(version) ||
		!strings.Contains(version, strings.ReplaceAll(strings.TrimPrefix(binVersion, "v"), "-", "+")) {
		t.Errorf("Version %q is not a Debian version of the binary's %q", version, binVersion)
	}
	if got, want := filepath.Base(deb), "bosun_"+version+"_"+strings.TrimSpace(output(t, "dpkg", "--print-architecture"))+".deb"; got != want {
		t.Errorf("package file %s, want %s", got, want)
	}

	files := listing(t, deb)
	for path, e := range files {
		if e.owner != "root/root" {
			t.Errorf("%s is owned by %s, want root/root", path, e.owner)
		}
		if want, ok := wantFiles[path]; ok {
			if e.mode != want {
				t.Errorf("%s has mode %s, want %s", path, e.mode, want)
			}
		} else if e.mode != "drwxr-xr-x" {
			t.Errorf("unexpected %s %s in the package", e.mode, path)
		}
	}
	for path := range wantFiles {
		if _, ok := files[path]; !ok {
			t.Errorf("%s missing from the package", path)
		}
	}

	// Unpacked into a scratch root, the files are there with the same modes
	// and its bosun runs.
	root := t.TempDir()
	output(t, "dpkg-deb", "-x", deb, root)
	for path, want := range wantFiles {
		st, err := os.Lstat(filepath.Join(root, path))
		if err != nil {
			t.Errorf("unpacked: %v", err)
			continue
		}
		if st.Mode().String() != want || (st.Mode().IsRegular() && st.Size() == 0) {
			t.Errorf("unpacked %s: mode %s size %d, want %s and not empty", path, st.Mode(), st.Size(), want)
		}
	}
	if got := output(t, filepath.Join(root, "usr/bin/bosun"), "version"); got != "bosun "+binVersion+"\n" {
		t.Errorf("the packaged bosun version says %q, want %q", got, "bosun "+binVersion)
	}
	checkInstalled(t, root, "/usr")
}

func TestMakeInstallHonoursPrefixAndDestdir(t *testing.T) {
	bin := bosunBinary(t)
	for _, prefix := range []string{"/usr/local", "/opt/bosun"} {
		destdir := t.TempDir()
		output(t, "make", "-s", "-C", repoRoot(t), "install-files", "DESTDIR="+destdir, "PREFIX="+prefix, "BOSUN_BIN="+bin)
		var got []string
		err := filepath.WalkDir(destdir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				got = append(got, strings.TrimPrefix(path, destdir))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			prefix + "/bin/bosun",
			prefix + "/lib/systemd/system/bosun.service",
			prefix + "/share/bash-completion/completions/bosun",
			prefix + "/share/bosun/10-kubeadm.conf",
			prefix + "/share/fish/vendor_completions.d/bosun.fish",
			prefix + "/share/zsh/site-functions/_bosun",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("PREFIX=%s installed\n%s\nwant\n%s", prefix, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		checkInstalled(t, destdir, prefix)
	}
}

// checkInstalled checks that the unit and the drop-in installed under
// root+prefix run the bosun installed there, and that the completions are
// the scripts of their shells.
func checkInstalled(t *testing.T, root, prefix string) {
	t.Helper()
	read := func(path string) string {
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Error(err)
		}
		return string(b)
	}
	execStart := regexp.MustCompile(`(?m)^ExecStart=(\S+) run `)
	for _, path := range []string{prefix + "/lib/systemd/system/bosun.service", prefix + "/share/bosun/10-kubeadm.conf"} {
		if m := execStart.FindStringSubmatch(read(path)); m == nil || m[1] != prefix+"/bin/bosun" {
			t.Errorf("%s: ExecStart %q, want %s/bin/bosun run ...", path, m, prefix)
		}
	}
	if dropIn := read(prefix + "/share/bosun/10-kubeadm.conf"); !strings.Contains(dropIn, "ln -s "+prefix+"/share/bosun/10-kubeadm.conf ") {
		t.Errorf("the drop-in's comment does not name where it is installed:\n%s", dropIn)
	}
	zsh := "/share/zsh/site-functions/_bosun"
	if prefix == "/usr" {
		zsh = "/share/zsh/vendor-completions/_bosun"
	}
	for path, head := range map[string]string{
		"/share/bash-completion/completions/bosun": "# bash completion",
		zsh: "#compdef bosun",
		"/share/fish/vendor_completions.d/bosun.fish": "# fish completion for bosun",
	} {
		if got := read(prefix + path); !strings.HasPrefix(got, head) {
			t.Errorf("%s%s does not start with %q", prefix, path, head)
		}
	}
}
