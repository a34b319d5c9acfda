package userns

import (
	"github.com/crun-lite/crun-lite/internal/paths"
)

// RuntimeDirWarning returns the warning every command prints when
// XDG_RUNTIME_DIR differs from the one the user's login sessions use, with
// its fix, or "", "".
func RuntimeDirWarning() (warning, fix string) {
	cause, fix, split := paths.RuntimeDirIssue(HostUID())
	if !split {
		return "", ""
	}
	return cause, fix
}
