package manifest

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestExpandFollowsTheKubeletRules(t *testing.T) {
	vars := map[string]string{"A": "a", "EMPTY": ""}
	for _, tc := range []struct{ name, in, want string }{
		{"a defined variable is replaced", "x$(A)y", "xay"},
		{"an undefined variable is left as written", "$(B)", "$(B)"},
		{"$$ is a dollar", "$$(A)", "$(A)"},
		{"an unclosed reference is left as written", "$(A", "$(A"},
		{"a lone dollar stays", "a$b$", "a$b$"},
		{"an empty variable is replaced", "[$(EMPTY)]", "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Expand(tc.in, vars, MaxExpandedValue)
			if err != nil || got != tc.want {
				t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestExpandStopsBeforeBuildingAStringPastItsBound(t *testing.T) {
	vars := map[string]string{"B": strings.Repeat("b", 100<<10)}
	bomb := strings.Repeat("$(B)", 10000) // 1 GB if it were built
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Expand(bomb, vars, MaxExpandedValue)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrExpansionTooLong) {
		t.Fatalf("err %v, want ErrExpansionTooLong", err)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 4*MaxExpandedValue {
		t.Errorf("the refused expansion allocated %d bytes, want at most %d", grown, 4*MaxExpandedValue)
	}
	if s, err := Expand(strings.Repeat("x", 11), nil, 10); err == nil {
		t.Errorf("a string without references past the bound: %q, want an error", s)
	}
	if s, err := Expand("$(B)", vars, 100<<10); err != nil || len(s) != 100<<10 {
		t.Errorf("an expansion of exactly the bound: %d bytes, %v", len(s), err)
	}
}

func TestExpandContainerBoundsEachStringAndTheTotal(t *testing.T) {
	kib := strings.Repeat("k", 1024)
	env := func(pairs ...string) []corev1.EnvVar {
		var out []corev1.EnvVar
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, corev1.EnvVar{Name: pairs[i], Value: pairs[i+1]})
		}
		return out
	}
	big := env("A", kib, "B", strings.Repeat("$(A)", 100)) // 100 KiB
	for i := 0; i < 10; i++ {
		big = append(big, corev1.EnvVar{Name: "C", Value: "$(B)"})
	}
	for _, tc := range []struct {
		name string
		c    corev1.Container
		want string
	}{
		{"doubling variables stop at the first value past MAX_ARG_STRLEN",
			corev1.Container{Env: env("A", kib, "B", "$(A)$(A)$(A)$(A)$(A)$(A)$(A)$(A)", "C", "$(B)$(B)$(B)$(B)$(B)$(B)$(B)$(B)",
				"D", "$(C)$(C)$(C)$(C)$(C)$(C)$(C)$(C)", "E", "$(D)$(D)")},
			"env[3].value: expands to more than 131072 bytes (MAX_ARG_STRLEN, the longest string execve takes)"},
		{"values each within the bound stop past 1 MiB together", corev1.Container{Env: big},
			"env[11].value: the container's env, command and args expand to more than 1048576 bytes together"},
		{"args count toward the total", corev1.Container{Env: big[:10], Args: []string{"$(B)", "$(B)"}},
			"args[1]: the container's env, command and args expand to more than 1048576 bytes together"},
		{"a command is bounded as an env value", corev1.Container{Env: env("A", kib), Command: []string{"sh", strings.Repeat("$(A)", 129)}},
			"command[1]: expands to more than 131072 bytes (MAX_ARG_STRLEN, the longest string execve takes)"},
		{"a value from the downward API is bounded too",
			corev1.Container{Env: []corev1.EnvVar{{Name: "ANN", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations"}}}}},
			"env[0].valueFrom: expands to more than 131072 bytes (MAX_ARG_STRLEN, the longest string execve takes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			source := func(*corev1.EnvVarSource) string { return strings.Repeat("a", MaxExpandedValue+1) }
			x, err := ExpandContainer(&tc.c, source)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err %v, want %s", err, tc.want)
			}
			if x != nil {
				t.Errorf("a refused expansion returned %d values", len(x.Env))
			}
		})
	}
	x, err := ExpandContainer(&corev1.Container{Env: env("A", "a", "B", "$(A)$$(A)"), Command: []string{"$(B)"}}, nil)
	if err != nil || strings.Join(x.Env, ",") != "a,a$(A)" || x.Command[0] != "a$(A)" || x.Args != nil {
		t.Errorf("ExpandContainer = %+v, %v", x, err)
	}
}

func TestValidateExpandsWithTheLongestValuesTheNodeProvides(t *testing.T) {
	// 2920 pod IPs: 23 KB for 10.0.0.1, 131400 bytes for the longest IPv6 text.
	y := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ips\nspec:\n  containers:\n  - name: c\n    image: busybox\n    env:\n" +
		"    - name: IP\n      valueFrom: {fieldRef: {fieldPath: status.podIP}}\n    - name: IPS\n      value: \"" + strings.Repeat("$(IP)", 2920) + "\"\n"
	if _, err := Load("ips.yaml", []byte(y), testNode); err == nil || !strings.Contains(err.Error(), "spec.containers[0].env[1].value: expands to more than 131072 bytes") {
		t.Errorf("err %v, want env[1].value refused", err)
	}
	if _, err := Load("ips.yaml", []byte(strings.Replace(y, strings.Repeat("$(IP)", 2920), "$(IP)", 1)), testNode); err != nil {
		t.Fatal(err)
	}
}
