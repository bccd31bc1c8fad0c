// Command images builds bosun's local test images and imports them into a
// containerd: go run ./hack/images --address DIR/containerd.sock
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/bosun-sh/bosun/hack/testimages"
)

func main() {
	address := flag.String("address", "/run/containerd/containerd.sock", "containerd socket")
	work := flag.String("work", "", "directory for the archives (default: a temporary one)")
	flag.Parse()
	if err := run(*address, *work); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(address, work string) error {
	ctx := context.Background()
	if work == "" {
		d, err := os.MkdirTemp("", "bosun-images-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	archives, err := testimages.Build(ctx, work, "hack/pause", "/usr/bin/busybox")
	if err != nil {
		return err
	}
	names, err := testimages.Import(ctx, address, archives)
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Println("imported", n)
	}
	return nil
}
