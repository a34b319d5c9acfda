// Package paths computes the per-user locations crun-lite keeps its state in.
//
// The holder's pid file is not among them: its path is built in C only, by
// crunlite_pidfile_path in userns/nsjoin.c (the constructor needs it before
// the Go runtime starts; userns.PidFile calls it). That function repeats the
// rule of RuntimeDir for the directory the pid file lies in, and userns's
// TestPidFileInRuntimeDir fails when the two disagree.
package paths

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// RuntimeDir returns the per-user directory for runtime state (the store's
// run root; the holder's pid file too, see the package comment):
// $XDG_RUNTIME_DIR/crun-lite when XDG_RUNTIME_DIR is a directory owned by
// the caller, else /tmp/crun-lite-UID. su and ssh sessions without logind
// often lack XDG_RUNTIME_DIR, hence the fallback.
func RuntimeDir(hostUID int) string {
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && ownedDir(x) {
		return filepath.Join(x, "crun-lite")
	}
	return "/tmp/crun-lite-" + strconv.Itoa(hostUID)
}

// DataDir returns $XDG_DATA_HOME/crun-lite, or ~/.local/share/crun-lite.
// Without either variable the error's hint names the home directory that
// /etc/passwd gives hostUID (env -i, some cron and systemd units lack HOME).
func DataDir(hostUID int) (string, error) {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "crun-lite"), nil
	}
	home := os.Getenv("HOME")
	if home == "" {
		return "", hint.Wrap(errors.New("neither XDG_DATA_HOME nor HOME is set, and no --root: the store has no default place"),
			dataDirFix(hostUID))
	}
	return filepath.Join(home, ".local", "share", "crun-lite"), nil
}

// dataDirFix is the fix for a missing HOME: the user's home as /etc/passwd
// has it, or --root.
func dataDirFix(hostUID int) string {
	if u, err := user.LookupId(strconv.Itoa(hostUID)); err == nil && u.HomeDir != "" {
		return "export HOME=" + u.HomeDir + " (or pass --root DIR)"
	}
	return "set HOME to your home directory, or pass --root DIR"
}

// ownedDir reports whether p is a directory owned by the calling user (as
// seen from the caller's user namespace, so it also holds after joining).
func ownedDir(p string) bool {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return false
	}
	return st.Mode&syscall.S_IFMT == syscall.S_IFDIR && int(st.Uid) == os.Getuid()
}

// MkdirPrivate creates dir (and parents) and makes sure dir itself is a
// directory owned by the caller with mode 0700, not a symlink planted by
// someone else (it may live in /tmp).
func MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR || int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s is not a directory owned by uid %d: remove it", dir, os.Getuid())
	}
	if st.Mode&0o077 != 0 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}
