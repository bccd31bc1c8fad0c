// Package testimages builds bosun's local test images (a pause image and a
// busybox image) as docker-archive tarballs and imports them into
// containerd's k8s.io namespace, since no registry can be reached.
package testimages

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/platforms"
)

// Image names, as users would write them in manifests.
const (
	Pause   = "registry.k8s.io/pause:3.10"
	Busybox = "docker.io/library/busybox:1.36"
)

// busyboxApplets are linked to bin/busybox in the busybox image.
var busyboxApplets = []string{
	"sh", "ash", "sleep", "echo", "cat", "ls", "mkdir", "rm", "touch", "true", "false",
	"httpd", "nc", "wget", "env", "id", "ps", "kill", "date", "head", "tail", "grep",
	"sed", "test", "printf", "hostname", "seq", "wc", "yes", "trap", "cp", "mv", "ln", "stat",
}

type file struct {
	name string
	mode int64
	data []byte
	link string // symlink target
	dir  bool
}

// Build writes the two image archives into dir and returns their paths.
// It compiles the pause program from pauseSrc (a Go package directory) and
// takes busybox from busyboxBin (Debian's busybox-static).
func Build(ctx context.Context, dir, pauseSrc, busyboxBin string) ([]string, error) {
	pauseBin := filepath.Join(dir, "pause")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", pauseBin, ".")
	cmd.Dir = pauseSrc
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build pause: %w: %s", err, out)
	}
	pause, err := os.ReadFile(pauseBin)
	if err != nil {
		return nil, fmt.Errorf("build pause: %w", err)
	}
	bb, err := os.ReadFile(busyboxBin)
	if err != nil {
		return nil, fmt.Errorf("busybox (apt-get install busybox-static): %w", err)
	}
	pauseTar := filepath.Join(dir, "pause.tar")
	if err := writeArchive(pauseTar, Pause, []file{{name: "pause", mode: 0o755, data: pause}},
		imageConfig{Entrypoint: []string{"/pause"}}); err != nil {
		return nil, err
	}
	files := []file{
		{name: "bin", dir: true, mode: 0o755},
		{name: "bin/busybox", mode: 0o755, data: bb},
		{name: "tmp", dir: true, mode: 0o1777},
		{name: "etc", dir: true, mode: 0o755},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnobody:x:65534:\n")},
		{name: "proc", dir: true, mode: 0o555},
		{name: "sys", dir: true, mode: 0o555},
		{name: "dev", dir: true, mode: 0o755},
		{name: "root", dir: true, mode: 0o700},
	}
	for _, a := range busyboxApplets {
		files = append(files, file{name: "bin/" + a, link: "busybox"})
	}
	busyboxTar := filepath.Join(dir, "busybox.tar")
	if err := writeArchive(busyboxTar, Busybox, files, imageConfig{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"sh"},
	}); err != nil {
		return nil, err
	}
	return []string{pauseTar, busyboxTar}, nil
}

type imageConfig struct {
	Env        []string `json:"Env,omitempty"`
	Entrypoint []string `json:"Entrypoint,omitempty"`
	Cmd        []string `json:"Cmd,omitempty"`
}

// writeArchive writes a docker-archive tarball of one layer.
func writeArchive(path, ref string, files []file, cfg imageConfig) error {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	sort.SliceStable(files, func(i, j int) bool { return files[i].name < files[j].name })
	epoch := time.Unix(0, 0)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: epoch, Typeflag: tar.TypeReg, Size: int64(len(f.data))}
		switch {
		case f.dir:
			h.Typeflag, h.Name, h.Size = tar.TypeDir, f.name+"/", 0
		case f.link != "":
			h.Typeflag, h.Linkname, h.Mode, h.Size = tar.TypeSymlink, f.link, 0o777, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.data); err != nil {
				return fmt.Errorf("image %s: %w", ref, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	layerSum := sha256.Sum256(layer.Bytes())
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      epoch.UTC().Format(time.RFC3339),
		"config":       cfg,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(layerSum[:])}},
	})
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	manifest, err := json.Marshal([]map[string]any{{
		"Config": configName, "RepoTags": []string{ref}, "Layers": []string{"layer.tar"},
	}})
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	var out bytes.Buffer
	ow := tar.NewWriter(&out)
	for _, e := range []struct {
		name string
		data []byte
	}{{"manifest.json", manifest}, {configName, config}, {"layer.tar", layer.Bytes()}} {
		if err := ow.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
		if _, err := ow.Write(e.data); err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
	}
	if err := ow.Close(); err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// Import imports archives into containerd's k8s.io namespace at address and
// unpacks them for the CRI's snapshotter, so CRI sees them as present.
func Import(ctx context.Context, address string, archives []string) ([]string, error) {
	c, err := client.New(address, client.WithDefaultNamespace("k8s.io"), client.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd %s: %w", address, err)
	}
	defer c.Close()
	var names []string
	for _, a := range archives {
		f, err := os.Open(a)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", a, err)
		}
		imgs, err := c.Import(ctx, f, client.WithImportPlatform(platforms.Default()))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", a, err)
		}
		for _, img := range imgs {
			if err := client.NewImage(c, img).Unpack(ctx, "overlayfs"); err != nil {
				return nil, fmt.Errorf("unpack %s: %w", img.Name, err)
			}
			names = append(names, img.Name)
		}
	}
	return names, nil
}
