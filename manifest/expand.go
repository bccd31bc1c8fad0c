package manifest

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// MaxExpandedValue is the most bytes one string may hold after $(VAR)
// expansion (an env value, a command or args element, a subPathExpr): the
// kernel's MAX_ARG_STRLEN (32 pages of 4 KiB), past which execve refuses a
// single argv or envp string with E2BIG.
const MaxExpandedValue = 128 << 10

// MaxExpandedTotal is the most bytes a container's env values, command and
// args may hold together after expansion. execve takes at most a quarter of
// the stack rlimit for argv and envp together (2 MiB at the usual 8 MiB), and
// the image's own env and the pointers count too; 1 MiB is half of that, so
// nothing that could be exec'd is refused, and a CreateContainer request stays
// far below gRPC's message limits.
const MaxExpandedTotal = 1 << 20

// ErrExpansionTooLong is the error of an expansion that would pass its bound.
var ErrExpansionTooLong = errors.New("expansion too long")

// Expand replaces $(NAME) with vars[NAME] when NAME is defined, turns $$ into
// $, and leaves everything else as written (the kubelet's rules). It fails
// with ErrExpansionTooLong, before building it, when the result would be
// longer than limit bytes.
func Expand(s string, vars map[string]string, limit int) (string, error) {
	if !strings.Contains(s, "$") {
		if len(s) > limit {
			return "", tooLong(limit)
		}
		return s, nil
	}
	b := boundedBuilder{limit: limit}
	for i := 0; i < len(s) && b.err == nil; i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.write(s[i : i+1])
			continue
		}
		switch s[i+1] {
		case '$':
			b.write("$")
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.write(s[i:])
				i = len(s)
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.write(v)
			} else {
				b.write(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.write("$")
		}
	}
	if b.err != nil {
		return "", b.err
	}
	return b.String(), nil
}

// boundedBuilder is a strings.Builder that refuses, without growing, a write
// that would take it past limit bytes.
type boundedBuilder struct {
	strings.Builder
	limit int
	err   error
}

func (b *boundedBuilder) write(s string) {
	if b.err != nil {
		return
	}
	if b.Len()+len(s) > b.limit {
		b.err = tooLong(b.limit)
		return
	}
	b.WriteString(s)
}

func tooLong(limit int) error {
	return fmt.Errorf("%w: more than %d bytes", ErrExpansionTooLong, limit)
}

// Expanded is a container's env, command and args with their $(VAR)
// references resolved.
type Expanded struct {
	// Env holds the value of each of the container's env entries, in order.
	Env []string
	// Vars maps each env name to its value (a later entry wins), for
	// expanding subPathExpr.
	Vars          map[string]string
	Command, Args []string
}

// ExpandContainer resolves c's env as the kubelet does (each value may refer
// to the entries before it; a valueFrom value comes from source and is taken
// as it is), then its command and args, each string within MaxExpandedValue
// and all of them together within MaxExpandedTotal. Its error is a
// *FieldError whose field is relative to the container ("env[3].value").
func ExpandContainer(c *corev1.Container, source func(*corev1.EnvVarSource) string) (*Expanded, error) {
	x := &Expanded{Vars: make(map[string]string, len(c.Env)), Env: make([]string, 0, len(c.Env))}
	left := MaxExpandedTotal
	// expand resolves s, or with literal takes it as it is, within the bounds.
	expand := func(field, s string, literal bool) (string, error) {
		limit := min(MaxExpandedValue, left)
		v, err := s, error(nil)
		if literal && len(s) > limit {
			err = tooLong(limit)
		} else if !literal {
			v, err = Expand(s, x.Vars, limit)
		}
		if err != nil {
			return "", expansionError(field, left)
		}
		left -= len(v)
		return v, nil
	}
	for i, e := range c.Env {
		var v string
		var err error
		if e.ValueFrom != nil {
			v, err = expand(fmt.Sprintf("env[%d].valueFrom", i), source(e.ValueFrom), true)
		} else {
			v, err = expand(fmt.Sprintf("env[%d].value", i), e.Value, false)
		}
		if err != nil {
			return nil, err
		}
		x.Vars[e.Name] = v
		x.Env = append(x.Env, v)
	}
	for _, list := range []struct {
		name string
		in   []string
		out  *[]string
	}{{"command", c.Command, &x.Command}, {"args", c.Args, &x.Args}} {
		if list.in == nil {
			continue
		}
		*list.out = make([]string, len(list.in))
		for i, s := range list.in {
			v, err := expand(fmt.Sprintf("%s[%d]", list.name, i), s, false)
			if err != nil {
				return nil, err
			}
			(*list.out)[i] = v
		}
	}
	return x, nil
}

// expansionError says which bound the expansion of field passed: one
// string's, or the container's total of which left bytes remained.
func expansionError(field string, left int) *FieldError {
	if left < MaxExpandedValue {
		return &FieldError{Field: field, Msg: fmt.Sprintf("the container's env, command and args expand to more than %d bytes together", MaxExpandedTotal)}
	}
	return &FieldError{Field: field, Msg: fmt.Sprintf("expands to more than %d bytes (MAX_ARG_STRLEN, the longest string execve takes)", MaxExpandedValue)}
}

// ExpandSubPath expands a volume mount's subPathExpr with a container's
// variables, within MaxExpandedValue.
func ExpandSubPath(expr string, vars map[string]string) (string, error) {
	return Expand(expr, vars, MaxExpandedValue)
}

// FormatMap renders labels or annotations as the downward API does:
// key="value" lines, sorted.
func FormatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m[k]))
	}
	return b.String()
}
