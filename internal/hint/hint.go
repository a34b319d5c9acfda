// Package hint attaches a fix to an error: the top level prints the error on
// one line and the hint on the next, so a user reads what broke and the
// command that mends it.
package hint

import "errors"

// Error is an error with a known fix.
type Error struct {
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Wrap returns err with hint attached; a nil err stays nil.
func Wrap(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, Hint: hint}
}

// Of returns the hint attached to err or to any error it wraps, or "".
func Of(err error) string {
	var h *Error
	if errors.As(err, &h) {
		return h.Hint
	}
	return ""
}
