package imagepreload

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/platforms"
)

// Containerd imports tarballs with containerd's own API into the namespace
// of its CRI plugin, and unpacks them for the CRI's snapshotter.
type Containerd struct {
	// Address is containerd's socket; a unix:// prefix is dropped.
	Address string
	// Namespace is the containerd namespace (default k8s.io).
	Namespace string
	// Snapshotter is the snapshotter to unpack for (default overlayfs).
	Snapshotter string
}

// Import implements Importer: it imports path for the host's platform,
// checks that every image's content for that platform is present, and
// unpacks it, which checks each layer against the digests of the image's
// config.
func (c Containerd) Import(ctx context.Context, path string, r io.Reader) ([]string, error) {
	ns, snap := c.Namespace, c.Snapshotter
	if ns == "" {
		ns = "k8s.io"
	}
	if snap == "" {
		snap = "overlayfs"
	}
	addr := strings.TrimPrefix(c.Address, "unix://")
	cl, err := client.New(addr, client.WithDefaultNamespace(ns), client.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd %s: %w", addr, err)
	}
	defer cl.Close()
	platform := platforms.Default()
	imgs, err := cl.Import(ctx, r, client.WithImportPlatform(platform))
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("import %s: no image in the tarball", path)
	}
	var names []string
	for _, img := range imgs {
		ok, _, _, missing, err := images.Check(ctx, cl.ContentStore(), img.Target, platform)
		if err != nil {
			return names, fmt.Errorf("import %s: image %s (%s): %w", path, img.Name, img.Target.Digest, err)
		}
		if !ok || len(missing) > 0 {
			return names, fmt.Errorf("import %s: image %s (%s): content missing for %s", path, img.Name, img.Target.Digest, platforms.Format(platforms.DefaultSpec()))
		}
		if err := client.NewImage(cl, img).Unpack(ctx, snap); err != nil {
			return names, fmt.Errorf("import %s: unpack image %s (%s): %w", path, img.Name, img.Target.Digest, err)
		}
		names = append(names, img.Name+"@"+img.Target.Digest.String())
	}
	return names, nil
}
