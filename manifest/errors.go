package manifest

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// FieldError is one problem at a field path such as
// "spec.containers[0].image", with its line in the file when known. Field is
// empty for problems of the file as a whole (syntax, size, permissions).
type FieldError struct {
	Line  int
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// FileError is everything wrong with one manifest file.
type FileError struct {
	File     string
	Problems []*FieldError
}

func (e *FileError) Error() string {
	if len(e.Problems) == 1 {
		return fmt.Sprintf("manifest %s: %s", e.File, e.Problems[0])
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return fmt.Sprintf("manifest %s: %d problems:\n%s", e.File, len(e.Problems), strings.Join(lines, "\n"))
}

var linePrefix = regexp.MustCompile(`^line (\d+): (.*)$`)

// fileError turns err (a *FieldError, an errors.Join of them, or a plain
// error whose lines may start with "line N: ") into a *FileError of file,
// taking missing lines from the YAML tree.
func fileError(file string, err error, root *yaml.Node) *FileError {
	fe := &FileError{File: file}
	var add func(error)
	add = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				add(e)
			}
			return
		}
		var f *FieldError
		if errors.As(err, &f) {
			// A field that is not written (a required one) points to the
			// nearest parent that is.
			for field := f.Field; f.Line == 0 && field != ""; field = parentPath(field) {
				f.Line = lineOf(root, field)
			}
			fe.Problems = append(fe.Problems, f)
			return
		}
		for _, l := range strings.Split(err.Error(), "\n") {
			p := &FieldError{Msg: l}
			if m := linePrefix.FindStringSubmatch(l); m != nil {
				p.Line, _ = strconv.Atoi(m[1])
				p.Msg = m[2]
			}
			fe.Problems = append(fe.Problems, p)
		}
	}
	add(err)
	return fe
}

// parentPath drops the last element of a field path:
// "spec.containers[0].image" -> "spec.containers[0]" -> "spec.containers".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndex(p, "["); i > 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndex(p, "."); i > 0 {
		return p[:i]
	}
	return ""
}
