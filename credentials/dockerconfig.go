package credentials

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxConfigSize bounds a Docker config file or a plugin config file: a
// config.json with thousands of registries is well below it.
const maxConfigSize = 4 << 20

// kubeletRootDir is the kubelet's root dir, where a kubeadm node keeps the
// node's config.json.
const kubeletRootDir = "/var/lib/kubelet"

// SearchDirs returns, in the kubelet's order, the directories searched for
// config.json and for the legacy .dockercfg: bosun's root dir (the
// kubelet's --root-dir) and the kubelet's own root dir, then the working
// directory, then $HOME/.docker (or $HOME for .dockercfg), then /.docker
// (or /).
func SearchDirs(rootDir, home string) (configJSON, dockercfg []string) {
	roots := []string{rootDir}
	if filepath.Clean(rootDir) != kubeletRootDir {
		roots = append(roots, kubeletRootDir)
	}
	configJSON = append(slices.Clone(roots), ".")
	dockercfg = append(slices.Clone(roots), ".")
	if home != "" {
		configJSON = append(configJSON, filepath.Join(home, ".docker"))
		dockercfg = append(dockercfg, home)
	}
	return append(configJSON, "/.docker"), append(dockercfg, "/")
}

// dockerConfigEntry is a registry's entry in a Docker config: a username
// and password, or both in auth as base64("username:password").
type dockerConfigEntry struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Email    string `json:"email,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// ReadDockerConfig reads the first valid config.json in configJSON's
// directories, else the first valid .dockercfg in dockercfg's, as the
// kubelet does; it returns the file read (empty when none) and the reasons
// files that exist were skipped. No file at all is not an error.
func ReadDockerConfig(configJSON, dockercfg []string) (string, []Entry, error) {
	var errs []error
	for _, set := range []struct {
		dirs []string
		name string
		wrap bool
	}{{configJSON, "config.json", true}, {dockercfg, ".dockercfg", false}} {
		for _, dir := range set.dirs {
			file, err := filepath.Abs(filepath.Join(dir, set.name))
			if err != nil {
				continue
			}
			entries, err := readDockerConfigFile(file, set.wrap)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			return file, entries, errors.Join(errs...)
		}
	}
	return "", nil, errors.Join(errs...)
}

// readDockerConfigFile reads a config.json (auths wrapped in "auths") or a
// .dockercfg (not wrapped), at most maxConfigSize bytes.
func readDockerConfigFile(file string, wrapped bool) ([]Entry, error) {
	data, err := readBounded(file, maxConfigSize)
	if err != nil {
		return nil, err
	}
	var auths map[string]dockerConfigEntry
	if wrapped {
		var cfg struct {
			Auths map[string]dockerConfigEntry `json:"auths"`
		}
		err = json.Unmarshal(data, &cfg)
		auths = cfg.Auths
	} else {
		err = json.Unmarshal(data, &auths)
	}
	if err != nil {
		return nil, fmt.Errorf("docker config %s: not valid JSON", file)
	}
	entries := make([]Entry, 0, len(auths))
	for registry, a := range auths {
		e := Entry{Registry: registry, Username: a.Username, Password: a.Password}
		if a.Auth != "" {
			if e.Username, e.Password, err = decodeAuth(a.Auth); err != nil {
				return nil, fmt.Errorf("docker config %s: registry %q: %w", file, registry, err)
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// decodeAuth decodes a Docker config's auth field, base64("user:password"),
// padded or not.
func decodeAuth(field string) (string, string, error) {
	enc := base64.RawStdEncoding
	if strings.HasSuffix(strings.TrimSpace(field), "=") {
		enc = base64.StdEncoding
	}
	decoded, err := enc.DecodeString(field)
	if err != nil {
		return "", "", errors.New("auth is not base64")
	}
	user, password, ok := strings.Cut(string(decoded), ":")
	if !ok {
		return "", "", errors.New("auth is not base64(username:password)")
	}
	return user, password, nil
}

// readBounded reads file, failing when it is larger than limit bytes.
func readBounded(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", file)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, limit)
	}
	return data, nil
}
