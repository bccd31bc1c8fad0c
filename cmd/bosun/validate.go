package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bosun-sh/bosun/cmd/bosun/internal/termsafe"
	"github.com/bosun-sh/bosun/manifest"
)

type validateResult struct {
	File     string          `json:"file"`
	Valid    bool            `json:"valid"`
	Pod      string          `json:"pod,omitempty"`
	UID      string          `json:"uid,omitempty"`
	Problems []problemOutput `json:"problems,omitempty"`
}

// ignoredOutput is a directory entry that is not read as a manifest.
type ignoredOutput struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

type problemOutput struct {
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

const validateExample = `  bosun validate /etc/kubernetes/manifests
  bosun validate --node-name cp-1 -o json etcd.yaml kube-apiserver.yaml`

func newValidateCommand() *cobra.Command {
	var (
		node, output  string
		allowSymlinks bool
	)
	cmd := &cobra.Command{
		Use:     "validate FILE|DIR...",
		Short:   "Check manifests offline, as the daemon would (exit 1 on error)",
		Example: validateExample,
		GroupID: groupManifests,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("validate needs at least one FILE or DIR")
			}
			return nil
		},
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runValidate(args, node, output, allowSymlinks, cmd.OutOrStdout(), cmd.ErrOrStderr())
		}),
	}
	cmd.Flags().StringVar(&node, "node-name", defaultNodeName(), "node name used for the pod name suffix (as --hostname-override)")
	cmd.Flags().BoolVar(&allowSymlinks, "allow-symlinks", false, "accept manifests that are symbolic links (the target is checked)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text (one line per problem: file:line: field: message) or json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runValidate(args []string, node, output string, allowSymlinks bool, stdout, stderr io.Writer) error {
	if output != "text" && output != "json" {
		return &usageError{fmt.Sprintf("--output must be text or json, not %q", output)}
	}
	files, ignored, results := listManifests(args)
	results = append(results, checkManifests(files, node, allowSymlinks)...)
	bad := 0
	for _, r := range results {
		if !r.Valid {
			bad++
		}
	}
	if output == "json" {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"node": node, "files": results, "ignored": ignored}); err != nil {
			return err
		}
		if _, err := stdout.Write(termsafe.JSON(buf.Bytes())); err != nil {
			return err
		}
	} else {
		writeProblems(stdout, results)
		for _, ig := range ignored {
			fmt.Fprintf(stderr, "ignored %s: %s\n", termsafe.Line(ig.File), termsafe.Line(ig.Reason))
		}
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "%d of %d manifests have errors\n", bad, len(results))
		return errSilent
	}
	fmt.Fprintf(stderr, "%d manifests valid\n", len(results))
	return nil
}

// listManifests returns the manifest files that args name (files, and the
// manifests of directories as the daemon lists them), sorted; the
// directory entries not read as manifests; and a failed result per
// argument that cannot be read.
func listManifests(args []string) (files []string, ignored []ignoredOutput, unreadable []*validateResult) {
	for _, arg := range args {
		fi, err := os.Stat(arg)
		if err != nil {
			unreadable = append(unreadable, &validateResult{File: arg, Problems: problemsOf(errors.Unwrap(err))})
			continue
		}
		if !fi.IsDir() {
			files = append(files, arg)
			continue
		}
		listing, err := manifest.ListDir(arg)
		if err != nil {
			unreadable = append(unreadable, &validateResult{File: arg, Problems: problemsOf(err)})
			continue
		}
		files = append(files, listing.Files...)
		for f, why := range listing.Ignored {
			ignored = append(ignored, ignoredOutput{File: f, Reason: why})
		}
	}
	sort.Slice(ignored, func(i, j int) bool { return ignored[i].File < ignored[j].File })
	sort.Strings(files)
	return files, ignored, unreadable
}

// checkManifests loads each file as the daemon would, on node, and returns
// a result per file, in order.
func checkManifests(files []string, node string, allowSymlinks bool) []*validateResult {
	loaded := map[string]*manifest.StaticPod{}
	loadErrs := map[string]error{}
	var pods []*manifest.StaticPod
	for _, f := range files {
		data, err := manifest.ReadFile(f, allowSymlinks)
		var sp *manifest.StaticPod
		if err == nil {
			sp, err = manifest.Load(f, data, node)
		}
		if err != nil {
			loadErrs[f] = err
			continue
		}
		loaded[f] = sp
		pods = append(pods, sp)
	}
	// The daemon's rule (manifest.DesiredSet); offline nothing runs, so the
	// lexically first file of a pod wins.
	_, conflicts := manifest.DesiredSet(pods, nil)
	lost := map[string]*manifest.Conflict{}
	for _, c := range conflicts {
		lost[c.File] = c
	}
	var results []*validateResult
	for _, f := range files {
		switch sp, c := loaded[f], lost[f]; {
		case sp == nil:
			results = append(results, &validateResult{File: f, Problems: problemsOf(loadErrs[f])})
		case c != nil:
			results = append(results, &validateResult{File: f, Problems: []problemOutput{conflictProblem(c)}})
		default:
			results = append(results, &validateResult{File: f, Valid: true, Pod: sp.Key(), UID: sp.UID})
		}
	}
	return results
}

// conflictProblem is the problem of a manifest that loses to another one
// (manifest.DesiredSet): both files and the field that collides.
func conflictProblem(c *manifest.Conflict) problemOutput {
	if c.Field == "metadata.uid" {
		return problemOutput{Field: c.Field, Message: fmt.Sprintf("%s of pod %s is also the uid of pod %s in %s; bosun runs only one of them", c.UID, c.Key, c.WinnerKey, c.Winner)}
	}
	return problemOutput{Field: "metadata.name", Message: fmt.Sprintf("pod %s is also defined by %s; bosun runs only one of them", c.Key, c.Winner)}
}

// writeProblems prints each problem on a line: file:line: field: message.
func writeProblems(w io.Writer, results []*validateResult) {
	for _, r := range results {
		for _, p := range r.Problems {
			loc := termsafe.Line(r.File)
			if p.Line > 0 {
				loc = fmt.Sprintf("%s:%d", loc, p.Line)
			}
			if p.Field != "" {
				fmt.Fprintf(w, "%s: %s: %s\n", loc, termsafe.Line(p.Field), termsafe.Line(p.Message))
			} else {
				fmt.Fprintf(w, "%s: %s\n", loc, termsafe.Line(p.Message))
			}
		}
	}
}

// problemsOf flattens a load error into problems.
func problemsOf(err error) []problemOutput {
	var fe *manifest.FileError
	if errors.As(err, &fe) {
		out := make([]problemOutput, len(fe.Problems))
		for i, p := range fe.Problems {
			out[i] = problemOutput{Line: p.Line, Field: p.Field, Message: p.Msg}
		}
		return out
	}
	msg := err.Error()
	if field, rest, ok := strings.Cut(msg, ": "); ok && !strings.Contains(field, " ") {
		return []problemOutput{{Field: field, Message: rest}}
	}
	return []problemOutput{{Message: msg}}
}

func defaultNodeName() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return strings.ToLower(h)
}
