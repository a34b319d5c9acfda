package userns

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// Sysctls that decide whether an unprivileged user may create user namespaces.
const (
	SysctlUnprivClone    = "/proc/sys/kernel/unprivileged_userns_clone"
	SysctlMaxUserNS      = "/proc/sys/user/max_user_namespaces"
	SysctlAppArmorUserNS = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
)

// ReadSysctl returns the trimmed value of a /proc/sys file, or "" when the
// kernel has no such setting.
func ReadSysctl(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// UsernsBlocker names the host setting that forbids unprivileged user
// namespaces, with the command that lifts it, or returns "", "".
func UsernsBlocker() (cause, fix string) {
	sysctlName := func(p string) string {
		return strings.ReplaceAll(strings.TrimPrefix(p, "/proc/sys/"), "/", ".")
	}
	if ReadSysctl(SysctlUnprivClone) == "0" {
		n := sysctlName(SysctlUnprivClone)
		return n + " is 0", "sudo sysctl -w " + n + "=1"
	}
	if ReadSysctl(SysctlMaxUserNS) == "0" {
		n := sysctlName(SysctlMaxUserNS)
		return n + " is 0", "sudo sysctl -w " + n + "=15000"
	}
	if ReadSysctl(SysctlAppArmorUserNS) == "1" {
		n := sysctlName(SysctlAppArmorUserNS)
		return "AppArmor restricts unprivileged user namespaces (" + n + "=1)",
			"add an AppArmor profile that allows userns for crun-lite, or sudo sysctl -w " + n + "=0"
	}
	return "", ""
}

// DiagnoseUserns turns a failed namespace creation into an error that names
// the host setting behind it.
func DiagnoseUserns(err error) error {
	if cause, fix := UsernsBlocker(); cause != "" {
		return hint.Wrap(fmt.Errorf("%w: %s", err, cause), fix)
	}
	if errors.Is(err, syscall.ENOSPC) {
		return hint.Wrap(err, "the limit of user namespaces is reached: raise user.max_user_namespaces")
	}
	return err
}
