package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bosun-sh/bosun/cmd/bosun/internal/termsafe"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
)

// completionTimeout bounds how long a shell waits for bosun to name its pods.
const completionTimeout = 2 * time.Second

// outputFlag defines -o/--output with the given values completed.
func outputFlag(cmd *cobra.Command, usage string, values ...string) *string {
	o := cmd.Flags().StringP("output", "o", "", usage)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
	return o
}

// completePods completes pod names from the bosun at the command's
// --api-socket, up to limit arguments (0: any number). Nothing is offered
// when bosun does not answer: a shell prints no error.
func completePods(limit int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if limit > 0 && len(args) >= limit {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		pods := listPodsForCompletion(cmd)
		return podCompletions(pods, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// podCompletions names each pod as the API takes it: its name, or
// namespace/name when the name is in several namespaces or the word being
// completed has a namespace; each with its namespace and status.
func podCompletions(pods []*bosunv1.Pod, toComplete string) []cobra.Completion {
	count := map[string]int{}
	for _, p := range pods {
		count[p.GetName()]++
	}
	var out []cobra.Completion
	for _, p := range pods {
		name := p.GetName()
		if count[name] > 1 || strings.Contains(toComplete, "/") {
			name = p.GetNamespace() + "/" + name
		}
		if strings.HasPrefix(name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(termsafe.Line(name), termsafe.Line(p.GetNamespace()+" "+p.GetReason())))
		}
	}
	return out
}

// completeContainers completes -c with the containers of the pod named by
// the first argument.
func completeContainers(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	socket, _ := cmd.Flags().GetString("api-socket")
	ctx, cancel := context.WithTimeout(commandContext(cmd), completionTimeout)
	defer cancel()
	p, err := getPod(ctx, socket, args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, c := range p.GetContainers() {
		if strings.HasPrefix(c.GetName(), toComplete) {
			out = append(out, cobra.CompletionWithDesc(termsafe.Line(c.GetName()), termsafe.Line(c.GetState())))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// listPodsForCompletion asks the bosun at the command's --api-socket for its
// pods; nil when it does not answer in time.
func listPodsForCompletion(cmd *cobra.Command) []*bosunv1.Pod {
	socket, _ := cmd.Flags().GetString("api-socket")
	ctx, cancel := context.WithTimeout(commandContext(cmd), completionTimeout)
	defer cancel()
	c, closeConn, err := dialAPI(ctx, socket)
	if err != nil {
		return nil
	}
	defer closeConn()
	resp, err := c.ListPods(ctx, &bosunv1.ListPodsRequest{})
	if err != nil {
		return nil
	}
	return resp.GetPods()
}

func commandContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
