package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

// commandError is an error returned by a command's RunE; every other error
// of cobra's Execute is a command line mistake (an unknown command or flag,
// a bad flag value, a wrong number of arguments).
type commandError struct{ err error }

func (e *commandError) Error() string { return e.err.Error() }
func (e *commandError) Unwrap() error { return e.err }

// Command groups of bosun's help.
const (
	groupDaemon    = "daemon"
	groupPods      = "pods"
	groupManifests = "manifests"
)

// runE adapts a command's function to cobra, marking its errors as the
// command's own (see commandError).
func runE(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd, args); err != nil {
			return &commandError{err}
		}
		return nil
	}
}

// newRootCommand is the bosun command with every verb below it, writing to
// stdout and stderr.
func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "bosun",
		Short: "bosun runs Kubernetes static pods on a CRI runtime (containerd), without a kubelet",
		Long: `bosun runs Kubernetes static pods on a CRI runtime (containerd), without a kubelet.

"bosun run" is the daemon; the other commands ask a running bosun through its API socket,
but for "validate", which checks manifests offline with the daemon's code.`,
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
		// bosun alone is a usage error; an unknown command is cobra's.
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			_ = cmd.Usage()
			return &usageError{"no command given"}
		}),
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	// Defined here so that cobra does not take -v, which is run's verbosity.
	root.Flags().Bool("version", false, "print the version")
	root.SetVersionTemplate("bosun {{.Version}}\n")
	root.AddGroup(
		&cobra.Group{ID: groupDaemon, Title: "The daemon:"},
		&cobra.Group{ID: groupPods, Title: "Pods (ask the running daemon):"},
		&cobra.Group{ID: groupManifests, Title: "Manifests:"},
	)
	root.AddCommand(
		newRunCommand(),
		newPSCommand(), newInspectCommand(), newEventsCommand(), newLogsCommand(), newWaitCommand(),
		newRolloutCommand(),
		newDiffCommand(), newValidateCommand(),
		&cobra.Command{
			Use: "version", Short: "Print the version", Args: noArgs,
			Run: func(cmd *cobra.Command, _ []string) { fmt.Fprintf(cmd.OutOrStdout(), "bosun %s\n", version) },
		},
	)
	// cobra's completion command prints its help when no shell is given:
	// make that a usage error, as an unknown shell is. (Made after SetOut:
	// it writes the scripts to the writer it finds now.)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.RunE = runE(func(*cobra.Command, []string) error {
				return &usageError{"completion needs a shell: bash, zsh, fish or powershell"}
			})
		}
	}
	return root
}

// run is the whole CLI: main only adds signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// ExecuteContextC hands ctx to every command as cmd.Context().
	root := newRootCommand(stdout, stderr) //nolint:contextcheck // see above
	root.SetArgs(normalizeArgs(root, args))
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return nil
	}
	var ce *commandError
	if errors.As(err, &ce) {
		return ce.err
	}
	if cmd == nil || cmd == root {
		root.SetOut(stderr)
		_ = root.Usage()
		fmt.Fprintln(stderr)
	} else {
		fmt.Fprintf(stderr, "Run \"%s --help\" for usage.\n", cmd.CommandPath())
	}
	return &usageError{err.Error()}
}

// normalizeArgs rewrites a single-dash long flag that names a flag of the
// command ("-pod-manifest-path", "-tail=5"), as Go's flag package accepted
// them before bosun used pflag, to its double-dash form. Values of flags,
// shorthands ("-f", "-c NAME") and everything after "--" stay as they are.
func normalizeArgs(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		cmd = root
	}
	flags := cmd.Flags()
	known := func(name string) *pflag.Flag {
		if f := flags.Lookup(name); f != nil {
			return f
		}
		if name == "help" {
			return &pflag.Flag{Name: "help", NoOptDefVal: "true"}
		}
		return nil
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			out = append(out, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var f *pflag.Flag
		switch {
		case strings.HasPrefix(a, "--"):
			f = known(name)
		case len(name) > 1 && known(name) != nil:
			f = known(name)
			a = "-" + a
		default: // shorthands, the last of which may take a value
			f = flags.ShorthandLookup(name[len(name)-1:])
		}
		out = append(out, a)
		if f != nil && f.NoOptDefVal == "" && !hasValue && i+1 < len(args) {
			out = append(out, args[i+1])
			i++
		}
	}
	return out
}

// noArgs refuses arguments with a usage error naming the command.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments, got %q", cmd.Name(), args)
	}
	return nil
}

// exactArgs wants n arguments, saying what they are otherwise.
func exactArgs(n int, msg string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return errors.New(msg)
		}
		return nil
	}
}

// flagSection is a named group of flags in a command's help, as the
// kubelet's --help shows its flags.
type flagSection struct {
	name  string
	flags *pflag.FlagSet
}

// newSection returns a section whose flags are also the command's.
func newSection(sections *[]flagSection, name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	*sections = append(*sections, flagSection{name, fs})
	return fs
}

// addSections adds the sections' flags to cmd and shows them by section in
// its help; flags in no section (--help) come last, as "Other flags".
func addSections(cmd *cobra.Command, sections []flagSection) {
	for _, s := range sections {
		cmd.Flags().AddFlagSet(s.flags)
	}
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		w := c.OutOrStderr()
		fmt.Fprintf(w, "Usage:\n  %s\n", c.UseLine())
		if c.HasExample() {
			fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
		}
		inSection := map[string]bool{}
		for _, s := range sections {
			fmt.Fprintf(w, "\n%s flags:\n\n%s", s.name, s.flags.FlagUsagesWrapped(100))
			s.flags.VisitAll(func(f *pflag.Flag) { inSection[f.Name] = true })
		}
		other := pflag.NewFlagSet("other", pflag.ContinueOnError)
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if !inSection[f.Name] {
				other.AddFlag(f)
			}
		})
		if other.HasFlags() {
			fmt.Fprintf(w, "\nOther flags:\n\n%s", other.FlagUsagesWrapped(100))
		}
		return nil
	})
}
