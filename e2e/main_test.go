package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bosun-sh/bosun/hack/testimages"
	"github.com/bosun-sh/bosun/runtime"
)

// Shared by all tests: the private containerd and the built binary.
var (
	bosunBin      string
	containerdDir string
	endpoint      string
	cri           *runtime.Client
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		// Failing, not passing: "ok" here would claim tests ran that did not.
		fmt.Println("e2e: FAIL: these tests run containers and need root (run: sudo make e2e); nothing was tested")
		return 1
	}
	work, err := os.MkdirTemp("", "bosun-e2e-")
	if err != nil {
		fmt.Println("e2e:", err)
		return 1
	}
	defer os.RemoveAll(work)
	containerdDir = filepath.Join(work, "containerd")
	endpoint = "unix://" + filepath.Join(containerdDir, "containerd.sock")
	defer func() {
		if out, err := exec.Command("../hack/containerd.sh", "stop", containerdDir).CombinedOutput(); err != nil {
			fmt.Printf("e2e: stop containerd: %v\n%s", err, out)
		}
	}()
	if err := setUp(work); err != nil {
		fmt.Println("e2e: set-up:", err)
		if b, rerr := os.ReadFile(filepath.Join(containerdDir, "containerd.log")); rerr == nil {
			fmt.Printf("containerd log:\n%s\n", tail(b, 50))
		}
		return 1
	}
	defer cri.Close()
	return m.Run()
}

func setUp(work string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bosunBin = filepath.Join(work, "bosun")
	build := exec.CommandContext(ctx, "go", "build", "-o", bosunBin, "./cmd/bosun")
	build.Dir = ".." // bosun's own module: e2e is a module of its own
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build bosun: %w: %s", err, out)
	}
	for _, args := range [][]string{{"install"}, {"start", containerdDir}} {
		cmd := exec.CommandContext(ctx, "../hack/containerd.sh", args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("hack/containerd.sh %v: %w: %s", args, err, out)
		}
	}
	archives, err := testimages.Build(ctx, work, "../hack/pause", "/usr/bin/busybox")
	if err != nil {
		return err
	}
	if _, err := testimages.Import(ctx, filepath.Join(containerdDir, "containerd.sock"), archives); err != nil {
		return err
	}
	c, info, err := runtime.Dial(ctx, endpoint, quietLog())
	if err != nil {
		return err
	}
	fmt.Printf("e2e: %s %s at %s\n", info.RuntimeName, info.RuntimeVersion, endpoint)
	cri = c
	return nil
}
