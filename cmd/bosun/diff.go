package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/bosun-sh/bosun/cmd/bosun/internal/termsafe"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
)

const diffExample = `  bosun diff
  bosun diff ./manifests-next`

// diffContext is how many unchanged lines surround a change.
const diffContext = 3

func newDiffCommand() *cobra.Command {
	var socket *string
	cmd := &cobra.Command{
		Use:   "diff [DIR]",
		Short: "What a sync would do now with DIR's manifests (exit 1 when something would change)",
		Long: `diff says what a sync would do now with the manifests of DIR (default: bosun's own directory),
without doing it. It exits 0 when nothing would change, 1 when something would (as kubectl diff).`,
		Example: diffExample,
		GroupID: groupManifests,
		Args:    cobra.MaximumNArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runDiff(cmd.Context(), *socket, args, cmd.OutOrStdout())
		}),
	}
	socket = apiSocketFlag(cmd.Flags())
	return cmd
}

func runDiff(ctx context.Context, socket string, args []string, stdout io.Writer) error {
	var dir string
	if len(args) == 1 {
		abs, err := filepath.Abs(args[0])
		if err != nil {
			return fmt.Errorf("directory %s: %w", args[0], err)
		}
		dir = abs
	}
	c, closeConn, err := dialAPI(ctx, socket)
	if err != nil {
		return err
	}
	defer closeConn()
	resp, err := c.Diff(ctx, &bosunv1.DiffRequest{Dir: dir})
	if err != nil {
		return apiError(err)
	}
	printDiff(stdout, resp)
	if len(resp.GetActions()) > 0 {
		return errSilent
	}
	return nil
}

// printDiff writes one line per action, a unified diff of the two Pod
// specs (as YAML) under each replace, and the files that do not load.
func printDiff(w io.Writer, resp *bosunv1.DiffResponse) {
	for _, a := range resp.GetActions() {
		file := filepath.Base(a.GetFile())
		switch a.GetAction() {
		case "create":
			fmt.Fprintf(w, "+ create %s (%s)\n", termsafe.Line(a.GetPod()), termsafe.Line(file))
		case "remove":
			fmt.Fprintf(w, "- remove %s (no manifest asks for it; was %s)\n", termsafe.Line(a.GetPod()), termsafe.Line(file))
		default:
			fmt.Fprintf(w, "~ replace %s (%s)\n", termsafe.Line(a.GetPod()), termsafe.Line(file))
			if a.GetRunningSpec() == "" {
				fmt.Fprintf(w, "    running version's spec unknown (made by an older bosun); hash differs (%s -> %s)\n", termsafe.Line(a.GetRunningHash()), termsafe.Line(a.GetDesiredHash()))
				continue
			}
			old, errOld := yaml.JSONToYAML([]byte(a.GetRunningSpec()))
			cur, errCur := yaml.JSONToYAML([]byte(a.GetDesiredSpec()))
			if errOld != nil || errCur != nil {
				fmt.Fprintf(w, "    cannot show the fields: %s; hash differs (%s -> %s)\n", termsafe.Line(firstErr(errOld, errCur).Error()), termsafe.Line(a.GetRunningHash()), termsafe.Line(a.GetDesiredHash()))
				continue
			}
			d := unifiedDiff("running "+a.GetRunningHash(), file+" "+a.GetDesiredHash(), string(old), string(cur))
			if d == "" {
				d = "(the specs are equal; the hash covers metadata too)\n"
			}
			for _, l := range strings.SplitAfter(strings.TrimSuffix(d, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", termsafe.Line(strings.TrimSuffix(l, "\n")))
			}
		}
	}
	for _, e := range resp.GetManifestErrors() {
		fmt.Fprintf(w, "! %s does not load (what runs is kept): %s\n", termsafe.Line(filepath.Base(e.GetFile())), termsafe.Block(e.GetError()))
	}
	if len(resp.GetActions()) == 0 {
		fmt.Fprintln(w, "no changes")
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// diffOp is one line of an edit script.
type diffOp struct {
	kind byte // ' ' (kept), '-' (removed) or '+' (added)
	text string
	i, j int // line numbers (0-based) in the old and new lines before this op
}

// editScript turns x into y, keeping a longest common subsequence of their
// lines.
func editScript(x, y []string) []diffOp {
	// lcs[i][j] is the length of the longest common subsequence of x[i:], y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, diffOp{' ', x[i], i, j})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, diffOp{'-', x[i], i, j})
			i++
		default:
			ops = append(ops, diffOp{'+', y[j], i, j})
			j++
		}
	}
	return ops
}

// unifiedDiff is a unified diff of a and b by lines (LCS), with
// diffContext lines of context; "" when they are equal.
func unifiedDiff(nameA, nameB, a, b string) string {
	ops := editScript(splitLines(a), splitLines(b))
	var out strings.Builder
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		// A hunk: from diffContext lines before this change to diffContext
		// lines after the last change that is at most 2*diffContext away.
		start := max(k-diffContext, 0)
		end := k
		for n := k; n < len(ops); n++ {
			if ops[n].kind != ' ' {
				end = n
			} else if n-end > 2*diffContext {
				break
			}
		}
		end = min(end+diffContext+1, len(ops))
		if out.Len() == 0 {
			fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
		}
		var na, nb int
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(ops[start].i, na), hunkRange(ops[start].j, nb))
		for _, o := range ops[start:end] {
			fmt.Fprintf(&out, "%c%s\n", o.kind, o.text)
		}
		k = end
	}
	return out.String()
}

// hunkRange is a unified diff range: start is 0-based.
func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
