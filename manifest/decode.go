package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// MaxSize is the largest manifest file bosun reads, in bytes.
const MaxSize = 1 << 20

// ErrEmpty is returned for a manifest that holds no document.
var ErrEmpty = errors.New("file is empty")

// Decode parses one Pod from YAML or JSON strictly: unknown fields, duplicate
// keys, more than one document, and any apiVersion/kind but v1/Pod are errors.
func Decode(data []byte) (*corev1.Pod, error) {
	pod, _, err := decode(data)
	return pod, err
}

// decode is Decode that also returns the YAML tree, for line numbers.
func decode(data []byte) (*corev1.Pod, *yaml3.Node, error) {
	if len(bytes.TrimSpace(stripComments(data))) == 0 {
		return nil, nil, ErrEmpty
	}
	if len(data) > MaxSize {
		return nil, nil, fmt.Errorf("file is %d bytes, larger than the limit of %d", len(data), MaxSize)
	}
	if hasSecondDocument(data) {
		return nil, nil, errors.New("more than one YAML document: a manifest holds exactly one Pod")
	}
	if end, after := contentAfterEnd(data); after > 0 {
		return nil, nil, &FieldError{Line: after, Msg: fmt.Sprintf("content after the YAML document end marker \"...\" (line %d): a manifest holds exactly one Pod", end)}
	}
	var root yaml3.Node
	if err := yaml3.Unmarshal(data, &root); err != nil {
		return nil, nil, cleanYAMLError(err)
	}
	if n := &root; n.Kind != yaml3.DocumentNode || len(n.Content) != 1 || n.Content[0].Kind != yaml3.MappingNode {
		return nil, nil, errors.New("not a YAML or JSON object: a manifest holds one Pod")
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, nil, cleanYAMLError(err)
	}
	var problems []error
	if head.APIVersion != "v1" {
		problems = append(problems, &FieldError{Line: lineOf(&root, "apiVersion"), Field: "apiVersion", Msg: fmt.Sprintf("must be v1, not %q", head.APIVersion)})
	}
	if head.Kind != "Pod" {
		problems = append(problems, &FieldError{Line: lineOf(&root, "kind"), Field: "kind", Msg: fmt.Sprintf("must be Pod, not %q", head.Kind)})
	}
	problems = append(problems, unknownFields(&root)...)
	if len(problems) > 0 {
		return nil, nil, errors.Join(problems...)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(data, &pod); err != nil {
		return nil, nil, cleanYAMLError(err)
	}
	return &pod, &root, nil
}

// hasSecondDocument reports whether a "---" separator after content is
// followed by more content.
func hasSecondDocument(data []byte) bool {
	lines := strings.Split(string(data), "\n")
	seenContent := false
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if l == "---" || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "---\t") {
			if seenContent {
				rest := strings.Join(lines[i+1:], "\n")
				return len(bytes.TrimSpace(stripComments([]byte(rest)))) > 0
			}
			continue
		}
		if t != "" && !strings.HasPrefix(t, "#") {
			seenContent = true
		}
	}
	return false
}

// contentAfterEnd finds a YAML document end marker ("..." at the start of a
// line) followed by more than comments, which a YAML decoder would drop
// silently. It returns the lines of the marker and of that content, or zeros.
func contentAfterEnd(data []byte) (end, after int) {
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSuffix(l, "\r")
		if end == 0 {
			if l == "..." || strings.HasPrefix(l, "... ") || strings.HasPrefix(l, "...\t") {
				end = i + 1
			}
			continue
		}
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			return end, i + 1
		}
	}
	return 0, 0
}

// stripComments drops full-line YAML comments, enough to tell an empty file.
func stripComments(data []byte) []byte {
	var out bytes.Buffer
	for _, l := range bytes.Split(data, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out.Write(l)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// cleanYAMLError drops the library prefixes so the message reads as
// "line 7: key \"image\" already set".
func cleanYAMLError(err error) error {
	msg := err.Error()
	for _, p := range []string{"error converting YAML to JSON: ", "error unmarshaling JSON: ", "while decoding JSON: ", "yaml: ", "json: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	// yaml lists problems as "unmarshal errors:\n  line 7: ...".
	if rest, ok := strings.CutPrefix(msg, "unmarshal errors:\n"); ok {
		var lines []string
		for _, l := range strings.Split(rest, "\n") {
			lines = append(lines, strings.TrimSpace(l))
		}
		msg = strings.Join(lines, "\n")
	}
	return errors.New(msg)
}
