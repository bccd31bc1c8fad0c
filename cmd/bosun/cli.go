package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errSilent is returned when the problem was already printed.
var errSilent = errors.New("failed")

// usageError is a command line mistake; it exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

const usage = `bosun runs Kubernetes static pods on a CRI runtime (containerd), without a kubelet.

Usage:
  bosun run [flags]            run the daemon: keep the pods of --pod-manifest-path running
  bosun ps [-o wide|json|yaml] list pods with their status, restarts, age, IP and manifest
  bosun inspect POD            everything bosun knows about one pod
  bosun events [-f] [--since]  what bosun did and saw
  bosun logs POD [-c NAME] [-f] [--previous] [--tail N] [--timestamps]
                               a container's log
  bosun wait POD...|--all --for=ready|running|deleted [--timeout 2m]
                               wait for pods; on timeout print why and exit 1
  bosun diff [DIR]             what a sync would do now with DIR's manifests (default:
                               bosun's own); exit 1 when something would change
  bosun validate FILE|DIR...   check manifests offline, as the daemon would (exit 1 on error)
  bosun version                print the version

Run "bosun COMMAND --help" for the flags of a command.
`

// run is the whole CLI: main only adds signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{"no command given"}
	}
	switch args[0] {
	case "run":
		return runDaemon(ctx, args[1:], stdout, stderr)
	case "validate":
		return runValidate(args[1:], stdout, stderr)
	case "ps":
		return runPS(ctx, args[1:], stdout, stderr)
	case "inspect":
		return runInspect(ctx, args[1:], stdout, stderr)
	case "events":
		return runEvents(ctx, args[1:], stdout, stderr)
	case "logs":
		return runLogs(ctx, args[1:], stdout, stderr)
	case "wait":
		return runWait(ctx, args[1:], stdout, stderr)
	case "diff":
		return runDiff(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "bosun %s\n", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return &usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// parseFlags parses args with fs; --help prints usage and example to stdout.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, example string) (help bool, err error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage of bosun %s:\n", fs.Name())
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			fmt.Fprintf(stdout, "\nExample:\n  %s\n", strings.TrimSpace(example))
			return true, nil
		}
		fmt.Fprintf(stderr, "Run \"bosun %s --help\" for usage.\n", fs.Name())
		return false, &usageError{err.Error()}
	}
	return false, nil
}
