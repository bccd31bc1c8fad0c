package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// manifestExts are the names read as manifests: the kubelet's usual
// *.yaml, *.yml and *.json, and the *.manifest of kops and kube-up.
var manifestExts = []string{".yaml", ".yml", ".json", ".manifest"}

// leftoverSuffixes and leftoverExtPrefixes are what editors, patch and
// package managers leave next to a file they change (x.yaml~, x.yaml.swp,
// x.yaml.dpkg-old, x.yaml.ucf-dist, ...). They are never read, and are
// named as such when listed as ignored.
var (
	leftoverSuffixes    = []string{"~", ".bak", ".swp", ".swx", ".orig", ".rej", ".tmp", ".rpmnew", ".rpmsave", ".rpmorig"}
	leftoverExtPrefixes = []string{".dpkg-", ".ucf-"}
)

// notAManifestName is the reason given for any other name.
var notAManifestName = "not a manifest name (*" + strings.Join(manifestExts, ", *") + ")"

// IsManifestName reports whether a directory entry is read as a manifest:
// *.yaml, *.yml, *.json or *.manifest, not starting with a dot.
func IsManifestName(name string) bool {
	return IgnoredReason(name, false) == ""
}

// IgnoredReason says why a directory entry is not read as a manifest, or
// returns "" when it is. isDir is whether the entry is a directory: the
// manifest directory is not read recursively.
func IgnoredReason(name string, isDir bool) string {
	if strings.HasPrefix(name, ".") {
		return "hidden (the name starts with a dot)"
	}
	if isDir {
		return "a directory (subdirectories are not read)"
	}
	ext := filepath.Ext(name)
	for _, suffix := range leftoverSuffixes {
		if strings.HasSuffix(name, suffix) {
			return "an editor or package manager leftover (*" + suffix + ")"
		}
	}
	for _, prefix := range leftoverExtPrefixes {
		if strings.HasPrefix(ext, prefix) {
			return "an editor or package manager leftover (*" + prefix + "*)"
		}
	}
	if slices.Contains(manifestExts, ext) {
		return ""
	}
	return notAManifestName
}

// Listing is what a manifest directory holds.
type Listing struct {
	// Files are the paths read as manifests, sorted.
	Files []string
	// Ignored maps every other entry's path to why it is not read.
	Ignored map[string]string
}

// ListDir checks dir as CheckDir does and lists it: the daemon and
// `bosun validate` read the same files.
func ListDir(dir string) (Listing, error) {
	if err := CheckDir(dir); err != nil {
		return Listing{}, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Listing{}, fmt.Errorf("manifest directory %s: %w", dir, err)
	}
	l := Listing{Ignored: map[string]string{}}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if why := IgnoredReason(e.Name(), e.IsDir()); why != "" {
			l.Ignored[path] = why
			continue
		}
		l.Files = append(l.Files, path)
	}
	sort.Strings(l.Files)
	return l, nil
}
