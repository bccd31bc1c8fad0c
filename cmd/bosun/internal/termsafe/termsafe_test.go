package termsafe

import (
	"encoding/json"
	"testing"
)

func TestLineAndBlockEscapeWhatATerminalWouldObey(t *testing.T) {
	for _, tc := range []struct{ name, in, line, block string }{
		{"plain text is kept", `exit 1: no such file C:\x`, `exit 1: no such file C:\x`, `exit 1: no such file C:\x`},
		{"an ESC sequence is escaped", "\x1b[2J\x1b]0;pwned\a", `\x1b[2J\x1b]0;pwned\a`, `\x1b[2J\x1b]0;pwned\a`},
		{"a newline and a tab are escaped on one line, the newline kept in a block", "a\nb\tc\r", `a\nb\tc\r`, "a\nb\\tc\\r"},
		{"DEL and C1 controls are escaped", "x\x7fy\u0085z\u009b", `x\x7fy\u0085z\u009b`, `x\x7fy\u0085z\u009b`},
		{"invalid UTF-8 is escaped byte by byte", "a\xff\xc2b", `a\xff\xc2b`, `a\xff\xc2b`},
		{"bidi overrides and zero-width characters are escaped", "ab\u202ecd\u200b", `ab\u202ecd\u200b`, `ab\u202ecd\u200b`},
		{"printable Unicode is kept", "Grüße, 世界 ✓", "Grüße, 世界 ✓", "Grüße, 世界 ✓"},
		{"a literal U+FFFD is kept", "\uFFFD", "\uFFFD", "\uFFFD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Line(tc.in); got != tc.line {
				t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.line)
			}
			if got := Block(tc.in); got != tc.block {
				t.Errorf("Block(%q) = %q, want %q", tc.in, got, tc.block)
			}
		})
	}
}

func TestJSONEscapesWhatTheEncoderLeavesAndKeepsTheValue(t *testing.T) {
	in := map[string]string{"m": "a\x1b[2J\u009b\x7f\u202e\U000e0001 ok ✓"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got := JSON(b)
	want := `{"m":"a\u001b[2J\u009b\u007f\u202e\udb40\udc01 ok ✓"}`
	if string(got) != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil || back["m"] != in["m"] {
		t.Errorf("decodes to %q, %v; want %q", back["m"], err, in["m"])
	}
}
