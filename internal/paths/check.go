package paths

import (
	"fmt"
	"os"
	"strconv"

	"github.com/crun-lite/crun-lite/internal/hostcheck"
)

// RuntimeDirIssue explains why XDG_RUNTIME_DIR is not used for runtime
// state, with the fix, or returns "", "" when it is. split is set when the
// user's login sessions keep theirs in /run/user/UID: commands run with and
// without the variable would then use two namespace holders and two run
// roots for one store, so every command should warn.
func RuntimeDirIssue(hostUID int) (cause, fix string, split bool) {
	x := os.Getenv("XDG_RUNTIME_DIR")
	if x != "" && ownedDir(x) {
		return "", "", false
	}
	session := "/run/user/" + strconv.Itoa(hostUID)
	split = ownedDir(session)
	if x == "" {
		cause = "XDG_RUNTIME_DIR is not set (su and some ssh sessions lack it)"
	} else {
		cause = fmt.Sprintf("XDG_RUNTIME_DIR=%s is not a directory you own (su keeps the caller's)", x)
	}
	cause += ": runtime state goes to " + RuntimeDir(hostUID)
	switch {
	case split:
		cause += ", apart from your login sessions' in " + session
		fix = "export XDG_RUNTIME_DIR=" + session
	case x != "":
		fix = "unset XDG_RUNTIME_DIR, or log in through systemd-logind (ssh, a desktop, machinectl shell USER@) so it is set"
	default:
		fix = "log in through systemd-logind (ssh, a desktop, machinectl shell USER@) so XDG_RUNTIME_DIR is set"
	}
	return cause, fix, split
}

// CheckRuntimeDir grades XDG_RUNTIME_DIR for doctor; crun-lite works
// without it, so the worst is a warning.
func CheckRuntimeDir(hostUID int) hostcheck.Check {
	c := hostcheck.Check{ID: "runtime-dir", Title: "XDG_RUNTIME_DIR", Status: hostcheck.OK}
	cause, fix, _ := RuntimeDirIssue(hostUID)
	if cause == "" {
		c.Message = os.Getenv("XDG_RUNTIME_DIR") + " is yours: runtime state goes to " + RuntimeDir(hostUID)
		return c
	}
	c.Status, c.Message, c.Fix = hostcheck.Warning, cause, fix
	return c
}
