package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDNSParsesResolvConf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	conf := "# generated\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n; comment\nsearch corp.example lab.example\noptions ndots:2 timeout:1\n"
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	got := DNS(p)
	if strings.Join(got.Servers, ",") != "192.0.2.53,192.0.2.54" || strings.Join(got.Searches, ",") != "corp.example,lab.example" ||
		strings.Join(got.Options, ",") != "ndots:2,timeout:1" {
		t.Errorf("parsed %v", got)
	}
	if DNS(filepath.Join(t.TempDir(), "missing")) != nil {
		t.Error("a missing file must give nil (the runtime then uses the host's)")
	}
}

func TestMemoryAndCPUs(t *testing.T) {
	if MemoryBytes() <= 0 || CPUs() <= 0 {
		t.Errorf("memory %d, cpus %d", MemoryBytes(), CPUs())
	}
}
