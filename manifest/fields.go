package manifest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
)

// unknownFields walks the YAML (or JSON) tree of a Pod alongside the Go type
// and returns an error for every key the type does not have, with its field
// path and line: "line 12: spec.containers[0].comand: unknown field".
func unknownFields(root *yaml.Node) []error {
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	var errs []error
	walkFields(root, reflect.TypeFor[corev1.Pod](), "", &errs)
	return errs
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

func walkFields(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode || reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return // custom decoding (quantities, int-or-string, times): a leaf
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := jsonFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			f, ok := fields[key]
			if !ok {
				*errs = append(*errs, &FieldError{Line: n.Content[i].Line, Field: join(path, key), Msg: "unknown field"})
				continue
			}
			walkFields(n.Content[i+1], f, join(path, key), errs)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkFields(n.Content[i+1], t.Elem(), path+"["+n.Content[i].Value+"]", errs)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, item := range n.Content {
			walkFields(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields maps the JSON names of a struct's fields, inlined ones
// included, to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// lineOf returns the line of a field path such as "spec.containers[0].image"
// in the tree, or 0 when the path is not written in the file.
func lineOf(root *yaml.Node, path string) int {
	if root == nil {
		return 0
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	n, line := root, 0
	for _, part := range splitPath(path) {
		var next *yaml.Node
		switch {
		case part.index >= 0 && n.Kind == yaml.SequenceNode && part.index < len(n.Content):
			next = n.Content[part.index]
			line = next.Line
		case n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part.key {
					next, line = n.Content[i+1], n.Content[i].Line
					break
				}
			}
		}
		if next == nil {
			return 0
		}
		n = next
	}
	return line
}

type pathPart struct {
	key   string
	index int
}

// splitPath splits "spec.containers[0].image" into spec, containers, 0, image
// and "metadata.labels[app]" into metadata, labels, app.
func splitPath(path string) []pathPart {
	var out []pathPart
	for _, seg := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if name != "" {
			out = append(out, pathPart{key: name, index: -1})
		}
		for rest != "" {
			var inside string
			inside, rest, _ = strings.Cut(rest, "]")
			rest = strings.TrimPrefix(rest, "[")
			var idx int
			if _, err := fmt.Sscanf(inside, "%d", &idx); err == nil {
				out = append(out, pathPart{index: idx})
			} else {
				out = append(out, pathPart{key: inside, index: -1})
			}
		}
	}
	return out
}
