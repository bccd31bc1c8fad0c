package manifest

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that no input panics the decoder or the loader, and that
// a loaded pod's hash is a function of its content. The seed corpus is in
// testdata/fuzz/FuzzDecode plus every fixture.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*-*.*")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sp, err := Load("fuzz.yaml", data, testNode)
		if err != nil {
			return
		}
		again, err := Load("other.yaml", data, testNode)
		if err != nil || again.Hash != sp.Hash {
			t.Fatalf("second load: %v, hash %s vs %s", err, again.Hash, sp.Hash)
		}
	})
}
