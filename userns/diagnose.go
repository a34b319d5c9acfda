package userns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// Sysctls that decide whether an unprivileged user may create user
// namespaces, as paths below /proc/sys.
const (
	sysctlUnprivClone    = "kernel/unprivileged_userns_clone"
	sysctlMaxUserNS      = "user/max_user_namespaces"
	sysctlAppArmorUserNS = "kernel/apparmor_restrict_unprivileged_userns"
)

// procSys is a directory laid out as /proc/sys: the host's, or in tests
// one whose files say what a host that blocks user namespaces says.
type procSys string

// hostSysctls are the running kernel's settings.
const hostSysctls procSys = "/proc/sys"

// read returns the trimmed value of a sysctl, or "" when the kernel has no
// such setting.
func (p procSys) read(key string) string {
	b, err := os.ReadFile(filepath.Join(string(p), key))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func sysctlName(key string) string { return strings.ReplaceAll(key, "/", ".") }

// setSysctlFix is the command that sets a sysctl now and at every boot. Each
// setting gets a file of its own in /etc/sysctl.d, so that applying several
// of these fixes keeps every one (tee replaces the file it writes).
func setSysctlFix(key, value string) string {
	n := sysctlName(key)
	return fmt.Sprintf("sudo sysctl -w %s=%s && echo %s=%s | sudo tee /etc/sysctl.d/50-crun-lite-%s.conf", n, value, n, value, n)
}

// UsernsBlocker names the host setting that forbids unprivileged user
// namespaces, with the command that lifts it, or returns "", "".
func UsernsBlocker() (cause, fix string) { return hostSysctls.usernsBlocker() }

func (p procSys) usernsBlocker() (cause, fix string) {
	if p.read(sysctlUnprivClone) == "0" {
		return sysctlName(sysctlUnprivClone) + " is 0", setSysctlFix(sysctlUnprivClone, "1")
	}
	if p.read(sysctlMaxUserNS) == "0" {
		return sysctlName(sysctlMaxUserNS) + " is 0", setSysctlFix(sysctlMaxUserNS, "15000")
	}
	if p.read(sysctlAppArmorUserNS) == "1" {
		return "AppArmor restricts unprivileged user namespaces (" + sysctlName(sysctlAppArmorUserNS) + "=1)", appArmorFix()
	}
	return "", ""
}

// appArmorFix writes the profile Ubuntu 24.04 expects for a program that
// may create user namespaces (as its own packages do for browsers), for the
// binary that is running now.
func appArmorFix() string {
	exe, err := Executable()
	if err != nil {
		exe = "/usr/local/bin/crun-lite"
	}
	return fmt.Sprintf(`printf 'abi <abi/4.0>,\ninclude <tunables/global>\nprofile crun-lite %s flags=(unconfined) {\n  userns,\n}\n' | sudo tee /etc/apparmor.d/crun-lite && sudo apparmor_parser -r /etc/apparmor.d/crun-lite`, exe)
}

// DiagnoseUserns turns a failed namespace creation into an error that names
// the host setting behind it.
func DiagnoseUserns(err error) error { return diagnoseUserns(err, hostSysctls) }

func diagnoseUserns(err error, p procSys) error {
	if cause, fix := p.usernsBlocker(); cause != "" {
		return hint.Wrap(fmt.Errorf("%w: %s", err, cause), fix)
	}
	if errors.Is(err, syscall.ENOSPC) {
		return hint.Wrap(err, "the limit of user namespaces is reached: "+setSysctlFix(sysctlMaxUserNS, "15000"))
	}
	if where := Container(); where != "" && errors.Is(err, syscall.EPERM) {
		return hint.Wrap(fmt.Errorf("%w: the container crun-lite runs in (%s) forbids user namespaces", err, where),
			"start the outer container with user namespaces allowed, e.g. --security-opt seccomp=unconfined --security-opt apparmor=unconfined")
	}
	return err
}

// DiagnoseRefused adds the host setting that restricts user namespaces, and
// its fix, to an EPERM or EACCES that the kernel gave for something done
// inside the namespace (a mount, the clone of a container's namespaces):
// under AppArmor's restriction (Ubuntu 24.04) creating the namespace
// succeeds and only what needs its capabilities fails. Other errors, and
// any error on a host that restricts nothing, are returned unchanged.
func DiagnoseRefused(err error) error { return diagnoseRefused(err, hostSysctls) }

func diagnoseRefused(err error, p procSys) error {
	if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EACCES) {
		return err
	}
	if cause, fix := p.usernsBlocker(); cause != "" {
		return hint.Wrap(fmt.Errorf("%w: %s", err, cause), fix)
	}
	return err
}

// Container names the container runtime this process seems to run under
// ("docker", "podman", the value of $container, or "a user namespace"), or
// returns "" on a host.
func Container() string {
	if _, err := os.Stat("/run/.containerenv"); err == nil {
		return "podman"
	}
	if _, err := os.Stat("/.dockerenv"); err == nil {
		return "docker"
	}
	if v := os.Getenv("container"); v != "" {
		return v
	}
	if m, err := os.ReadFile("/proc/self/uid_map"); err == nil && !identityMap(m) {
		return "a user namespace"
	}
	return ""
}

// identityMap reports whether an id map is the initial namespace's, which
// maps every id onto itself.
func identityMap(m []byte) bool {
	return strings.Join(strings.Fields(string(m)), " ") == "0 0 4294967295"
}
