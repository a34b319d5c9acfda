// Package hostcheck is the vocabulary of `crun-lite doctor`: one Check per
// thing rootless containers need from the host, with its status and, when
// something is wrong, the command that fixes it.
//
// The checks themselves live next to the code that depends on the host
// (userns for ids and namespaces, store for overlay and fuse, run for the
// rest) and reuse the functions whose errors a failing command prints, so
// `doctor` and the `hint:` line of an error always say the same thing.
package hostcheck

import (
	"github.com/crun-lite/crun-lite/internal/hint"
)

// Status grades one check.
type Status string

// The statuses, from good to bad. Only Problem makes doctor exit 1.
const (
	OK      Status = "ok"
	Info    Status = "info"    // worth knowing; does not affect running containers today
	Warning Status = "warning" // containers run, but something is slower, weaker or fragile
	Problem Status = "problem" // blocks running containers
)

// Check is the outcome of one host check.
type Check struct {
	ID      string `json:"id"`    // stable, for scripts: "subuid", "newuidmap", ...
	Title   string `json:"title"` // what was checked, for people
	Status  Status `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"` // one command line (or instruction) that mends it
}

// FromError turns the error of a check function into a Check: nil is OK with
// okMessage; an error is a Problem whose fix is the error's hint.
func FromError(id, title, okMessage string, err error) Check {
	if err == nil {
		return Check{ID: id, Title: title, Status: OK, Message: okMessage}
	}
	return Check{ID: id, Title: title, Status: Problem, Message: err.Error(), Fix: hint.Of(err)}
}

// Blocking reports whether any check is a Problem.
func Blocking(checks []Check) bool {
	for _, c := range checks {
		if c.Status == Problem {
			return true
		}
	}
	return false
}
