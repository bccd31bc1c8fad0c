package testimages

import (
	"fmt"
	"os"
	"path"
)

// BuildBinary writes a docker-archive tarball at archive of an image named
// ref that holds nothing but the static binary bin, as /usr/local/bin/NAME
// (NAME is bin's base name) on the image's PATH, with /tmp. The binary is the
// entrypoint, as a pause image needs; the manifests of Kubernetes components
// name their command themselves (kube-apiserver --flags...).
func BuildBinary(archive, ref, bin string) error {
	data, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	name := "usr/local/bin/" + path.Base(bin)
	files := []file{
		{name: "usr", dir: true, mode: 0o755},
		{name: "usr/local", dir: true, mode: 0o755},
		{name: "usr/local/bin", dir: true, mode: 0o755},
		{name: name, mode: 0o755, data: data},
		{name: "tmp", dir: true, mode: 0o1777},
	}
	return writeArchive(archive, ref, files, imageConfig{
		Env:        []string{"PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Entrypoint: []string{"/" + name},
	})
}
