package testimages

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Retag copies the docker-archive src to dst with its image named ref, so
// a test can have an image that is not in the runtime yet.
func Retag(src, dst, ref string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("retag %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("retag %s: %w", dst, err)
	}
	tr, tw := tar.NewReader(in), tar.NewWriter(out)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			out.Close()
			return fmt.Errorf("retag %s: %w", src, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			out.Close()
			return fmt.Errorf("retag %s: %s: %w", src, h.Name, err)
		}
		if h.Name == "manifest.json" {
			var m []map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				out.Close()
				return fmt.Errorf("retag %s: manifest.json: %w", src, err)
			}
			for _, e := range m {
				e["RepoTags"] = []string{ref}
			}
			if data, err = json.Marshal(m); err != nil {
				out.Close()
				return fmt.Errorf("retag %s: manifest.json: %w", src, err)
			}
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			out.Close()
			return fmt.Errorf("retag %s: %w", dst, err)
		}
		if _, err := tw.Write(data); err != nil {
			out.Close()
			return fmt.Errorf("retag %s: %w", dst, err)
		}
	}
	if err := tw.Close(); err != nil {
		out.Close()
		return fmt.Errorf("retag %s: %w", dst, err)
	}
	return out.Close()
}

// OCIArchive rewrites the docker-archive src (one image of one layer, as
// Build writes them) as an OCI image layout in the tar dst, its image named
// ref by an io.containerd.image.name annotation.
func OCIArchive(src, dst, ref string) error {
	files := map[string][]byte{}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("oci archive %s: %w", src, err)
	}
	defer in.Close()
	tr := tar.NewReader(in)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("oci archive %s: %w", src, err)
		}
		if files[h.Name], err = io.ReadAll(tr); err != nil {
			return fmt.Errorf("oci archive %s: %s: %w", src, h.Name, err)
		}
	}
	var m []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		return fmt.Errorf("oci archive %s: manifest.json: %w", src, err)
	}
	if len(m) != 1 || len(m[0].Layers) != 1 {
		return fmt.Errorf("oci archive %s: manifest.json: not one image of one layer", src)
	}
	blobs := map[string][]byte{}
	desc := func(mediaType string, data []byte) map[string]any {
		sum := sha256.Sum256(data)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs["blobs/sha256/"+hex.EncodeToString(sum[:])] = data
		return map[string]any{"mediaType": mediaType, "digest": d, "size": len(data)}
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        desc("application/vnd.oci.image.config.v1+json", files[m[0].Config]),
		"layers":        []any{desc("application/vnd.oci.image.layer.v1.tar", files[m[0].Layers[0]])},
	})
	if err != nil {
		return fmt.Errorf("oci archive %s: %w", src, err)
	}
	md := desc("application/vnd.oci.image.manifest.v1+json", manifest)
	md["annotations"] = map[string]string{"io.containerd.image.name": ref}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{md},
	})
	if err != nil {
		return fmt.Errorf("oci archive %s: %w", src, err)
	}
	names := []string{"oci-layout", "index.json"}
	blobs["oci-layout"] = []byte(`{"imageLayoutVersion":"1.0.0"}`)
	blobs["index.json"] = index
	for name := range blobs {
		if strings.HasPrefix(name, "blobs/") {
			names = append(names, name)
		}
	}
	sort.Strings(names[2:])
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, name := range names {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(blobs[name])), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
			return fmt.Errorf("oci archive %s: %w", dst, err)
		}
		if _, err := tw.Write(blobs[name]); err != nil {
			return fmt.Errorf("oci archive %s: %w", dst, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("oci archive %s: %w", dst, err)
	}
	return os.WriteFile(dst, out.Bytes(), 0o644)
}
