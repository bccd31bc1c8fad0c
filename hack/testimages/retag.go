package testimages

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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
