// Package termsafe makes text that bosun does not control (termination
// messages, probe and hook answers, exec output, event messages, manifest
// errors) safe to print on a terminal: nothing it prints can move the
// cursor, change colours, set the window title or hide what follows. It is
// the one place where the CLI decides that; it does not decide what text
// means, and `bosun logs` does not use it (a log is printed as its content,
// as kubectl logs does).
package termsafe

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Line returns s for one line of output: every rune that is not printable
// (C0 controls including \n and \t, DEL, C1 controls, ESC, Unicode format
// characters such as bidi overrides) is written as a Go escape (\n, \x1b,
// \u202e), and each byte of invalid UTF-8 as \xNN. Printable text, spaces
// and backslashes are kept as they are.
func Line(s string) string { return escape(s, false) }

// Block is Line for text of several lines: it keeps \n and escapes the rest.
func Block(s string) string { return escape(s, true) }

func escape(s string, keepNewlines bool) string {
	if safe(s, keepNewlines) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteString(`\x`)
			b.WriteString(hex2(s[i]))
		case r == '\n' && keepNewlines, r == ' ', r != utf8.RuneError && strconv.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			// QuoteRuneToASCII of a non-printable rune is its escape in quotes.
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// safe reports whether s prints as it is.
func safe(s string, keepNewlines bool) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && (c != '\n' || !keepNewlines) || c >= 0x7f {
			return asciiOrPrintable(s, keepNewlines)
		}
	}
	return true
}

// asciiOrPrintable is safe's slow path for text with non-ASCII bytes.
func asciiOrPrintable(s string, keepNewlines bool) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			return false
		case r == '\n' && keepNewlines, r == ' ', strconv.IsPrint(r):
		default:
			return false
		}
		i += n
	}
	return true
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

// JSON returns encoded JSON with every non-printable rune that encoding/json
// leaves as it is (DEL, C1 controls, Unicode format characters) written as a
// \uXXXX escape, which decodes to the same value. C0 controls are escaped by
// the encoder already; outside strings JSON holds only ASCII.
func JSON(b []byte) []byte {
	s := string(b)
	if asciiOrPrintable(s, true) && !strings.ContainsRune(s, 0x7f) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for _, r := range s {
		if r == 0x7f || r > 0x7f && !strconv.IsPrint(r) {
			if r > 0xffff {
				hi, lo := utf16Pair(r)
				out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// utf16Pair is the UTF-16 surrogate pair of a rune above U+FFFF.
func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
