package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bosun-sh/bosun/manifest"
)

func runValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	node := fs.String("node-name", defaultNodeName(), "node name used for the pod name suffix")
	allowSymlinks := fs.Bool("allow-symlinks", false, "accept manifests that are symbolic links (the target is checked)")
	if help, err := parseFlags(fs, args, stdout, stderr, "bosun validate /etc/kubernetes/manifests"); help || err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return &usageError{"validate needs at least one FILE or DIR"}
	}
	var files []string
	for _, arg := range fs.Args() {
		fi, err := os.Stat(arg)
		if err != nil {
			return fmt.Errorf("validate: %w", err)
		}
		if !fi.IsDir() {
			files = append(files, arg)
			continue
		}
		entries, err := os.ReadDir(arg)
		if err != nil {
			return fmt.Errorf("validate: %w", err)
		}
		for _, e := range entries {
			if manifest.IsManifestName(e.Name()) {
				files = append(files, filepath.Join(arg, e.Name()))
			}
		}
	}
	sort.Strings(files)
	bad := 0
	for _, f := range files {
		data, err := manifest.ReadFile(f, *allowSymlinks)
		if err == nil {
			_, err = manifest.Load(f, data, *node)
		}
		if err != nil {
			bad++
			fmt.Fprintln(stdout, strings.TrimSpace(err.Error()))
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", f)
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "%d of %d manifests have errors\n", bad, len(files))
		return errSilent
	}
	return nil
}

func defaultNodeName() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return strings.ToLower(h)
}
