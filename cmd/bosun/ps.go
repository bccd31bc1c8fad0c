package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"github.com/bosun-sh/bosun/cmd/bosun/internal/termsafe"
	bosunv1 "github.com/bosun-sh/bosun/proto/bosun/v1"
)

const psExample = `  bosun ps
  bosun ps -o wide
  bosun ps -o json | jq '.pods[].name'`

func newPSCommand() *cobra.Command {
	var socket, output *string
	cmd := &cobra.Command{
		Use:     "ps [flags]",
		Short:   "List pods with their status, restarts, age, IP and manifest",
		Example: psExample,
		GroupID: groupPods,
		Args:    noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return runPS(cmd.Context(), *socket, *output, cmd.OutOrStdout())
		}),
	}
	socket = apiSocketFlag(cmd.Flags())
	output = outputFlag(cmd, "output: wide, json or yaml (default: a table)", "wide", "json", "yaml")
	return cmd
}

func runPS(ctx context.Context, socket, output string, stdout io.Writer) error {
	switch output {
	case "", "wide", "json", "yaml":
	default:
		return &usageError{fmt.Sprintf("--output must be wide, json or yaml, not %q", output)}
	}
	c, closeConn, err := dialAPI(ctx, socket)
	if err != nil {
		return err
	}
	defer closeConn()
	resp, err := c.ListPods(ctx, &bosunv1.ListPodsRequest{})
	if err != nil {
		return apiError(err)
	}
	switch output {
	case "json", "yaml":
		return writeMessage(stdout, resp, output)
	}
	writePodTable(stdout, resp, output == "wide")
	// A runtime that does not answer is said under the table: the pods are
	// shown as last seen.
	if info, err := c.GetInfo(ctx, &bosunv1.GetInfoRequest{}); err == nil && !info.GetReady() {
		fmt.Fprintf(stdout, "\nRUNTIME NOT READY: %s does not answer (or the first sync is not done); pods are shown as last seen and left as they are\n", termsafe.Line(info.GetRuntimeEndpoint()))
	}
	return nil
}

// writeMessage prints a proto message as indented JSON or as YAML, its
// times in RFC 3339 (readableTimes).
func writeMessage(w io.Writer, m proto.Message, format string) error {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return err
	}
	var v any // reindent for stable output
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	v = readableTimes(v)
	if format == "yaml" {
		if b, err = yaml.Marshal(v); err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err = w.Write(termsafe.JSON(buf.Bytes()))
	return err
}

func writePodTable(w io.Writer, resp *bosunv1.ListPodsResponse, wide bool) {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	header := "NAMESPACE\tNAME\tREADY\tSTATUS\tRESTARTS\tAGE\tIP\tFILE"
	if wide {
		header += "\tUID\tSANDBOX\tATTEMPT"
	}
	fmt.Fprintln(tw, header)
	for _, p := range resp.GetPods() {
		ready, restarts, lastRestart := 0, uint32(0), int64(0)
		for _, c := range p.GetContainers() {
			if c.GetReady() {
				ready++
			}
			restarts += c.GetRestartCount()
			if t := c.GetLastTermination(); t != nil && t.GetFinishedUnixNano() > lastRestart {
				lastRestart = t.GetFinishedUnixNano()
			}
		}
		restartCol := fmt.Sprint(restarts)
		if restarts > 0 && lastRestart > 0 {
			restartCol += " (" + since(lastRestart) + " ago)"
		}
		reason := rolloutReason(p, p.GetReason())
		if p.GetManifestError() != "" {
			reason += " (manifest rejected)"
		}
		ip := p.GetIp()
		if ip == "" {
			ip = "<none>"
		}
		row := fmt.Sprintf("%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s", termsafe.Line(p.GetNamespace()), termsafe.Line(p.GetName()), ready, len(p.GetContainers()),
			termsafe.Line(reason), restartCol, since(p.GetCreatedUnixNano()), termsafe.Line(ip), termsafe.Line(p.GetFile()))
		if wide {
			row += fmt.Sprintf("\t%s\t%s\t%d", termsafe.Line(p.GetUid()), termsafe.Line(short(p.GetSandboxId())), p.GetAttempt())
		}
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
	if len(resp.GetManifestErrors()) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "REJECTED MANIFESTS (running pods keep their last good version):")
		for _, m := range resp.GetManifestErrors() {
			first, _, _ := strings.Cut(m.GetError(), "\n")
			fmt.Fprintf(w, "  %s\n", termsafe.Line(first))
			if strings.Contains(m.GetError(), "\n") {
				fmt.Fprintf(w, "    (more: bosun validate %s)\n", termsafe.Line(m.GetFile()))
			}
		}
	}
	if len(resp.GetIgnoredFiles()) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "IGNORED FILES (not read as manifests):")
		tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
		for _, f := range resp.GetIgnoredFiles() {
			fmt.Fprintf(tw, "  %s\t%s\n", termsafe.Line(f.GetFile()), termsafe.Line(f.GetReason()))
		}
		tw.Flush()
	}
}

// short is the first 13 characters of a runtime ID, as crictl prints it.
func short(id string) string {
	if len(id) > 13 {
		return id[:13]
	}
	return id
}
