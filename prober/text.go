package prober

import (
	"strconv"
	"unicode/utf8"
)

// Bounds on the text a probe or hook keeps of what a container answers: a
// container controls its bodies, headers, redirect targets, gRPC status
// messages and exec output, so bosun reads each with a limit, quotes only
// the first bytes, and caps the whole message.
const (
	// MaxMessage is the most bytes of a probe's or hook's warning or failure
	// message, the unit that events, logs and the API carry.
	MaxMessage = 1 << 10
	// maxQuoted is the most bytes of one piece of container text (a body, a
	// redirect target, exec output) quoted in a message, before escaping.
	maxQuoted = 256
	// maxResponseHeader is the most bytes of response headers an HTTP probe
	// or hook reads (Go's default is 10 MB): nginx passes at most 8 KiB of an
	// upstream's headers by default, so 64 KiB leaves room for any real
	// health endpoint and bounds what a hostile one makes bosun hold.
	maxResponseHeader = 64 << 10
)

// ellipsis marks text that Truncate cut.
const ellipsis = "…"

// Truncate returns s cut to at most n bytes on a UTF-8 boundary, ending
// with an ellipsis when it was cut; s is returned unchanged when it fits.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < len(ellipsis) {
		return ""
	}
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// quote is b's first maxQuoted bytes (cut on a UTF-8 boundary), quoted with
// Go escapes so that control characters print as text; an ellipsis after
// the closing quote says that b was longer.
func quote(b []byte) string {
	if len(b) <= maxQuoted {
		return strconv.Quote(string(b))
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return strconv.Quote(string(b[:cut])) + ellipsis
}

// boundedError is an error whose message is cut to MaxMessage bytes; it
// wraps the original, so errors.Is and errors.As still see it.
type boundedError struct {
	msg string
	err error
}

func (e *boundedError) Error() string { return e.msg }
func (e *boundedError) Unwrap() error { return e.err }

// bound returns err with its message cut to MaxMessage bytes (err itself
// when it fits, nil for nil).
func bound(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if len(msg) <= MaxMessage {
		return err
	}
	return &boundedError{msg: Truncate(msg, MaxMessage), err: err}
}
