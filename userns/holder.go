package userns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/internal/paths"
)

// reexecEnv marks the one re-execution after the holder was created, so a
// join that keeps failing ends in an error instead of a loop.
const reexecEnv = "_CRUNLITE_REEXEC"

// PidFile returns the path of the holder's pid file for the calling user:
// the constructor's own (crunlite_pidfile_path in nsjoin.c), so that the
// holder Go creates is the one the next process joins.
func PidFile() string { return pidFile(HostUID()) }

// Ensure puts the calling process inside the per-user namespace. When the
// constructor already joined it, or the caller is real root, it returns nil
// at once. Otherwise it creates the holder (single.go says which: the full
// mode's, or the single-id one) and re-executes the binary with the same
// arguments, so the constructor joins it: on success Ensure does not
// return.
func Ensure() error {
	if Joined() || os.Geteuid() == 0 {
		return nil
	}
	if msg := joinError(); msg != "" {
		return fmt.Errorf("join user namespace: %s", msg)
	}
	if os.Getenv(reexecEnv) != "" {
		return errors.New("join user namespace: the holder was created but the re-executed process did not join it")
	}
	if err := ensureHolder(Command().Single); err != nil {
		return err
	}
	exe, err := Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	env := append(os.Environ(), reexecEnv+"=1")
	return fmt.Errorf("re-execute %s: %w", exe, syscall.Exec("/proc/self/exe", os.Args, env))
}

// ensureHolder makes sure a holder the constructor joins exists, under a
// lock so that concurrent first commands create only one: for
// --userns=single (chosen) the single-id one, else the full mode's when
// this user has it, and the single-id one when not.
func ensureHolder(chosen bool) error {
	dir := filepath.Dir(PidFile())
	if err := paths.MkdirPrivate(dir); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "userns.lock"), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	if !chosen && HolderPid() > 0 {
		return nil
	}
	single := SingleHolder()
	if chosen && single.Pid > 0 {
		return nil
	}
	full := FullModeError()
	if chosen {
		return createSingleHolder(full == nil, full)
	}
	if full == nil {
		err := createHolder()
		var me *mapToolError
		if err == nil || !errors.As(err, &me) {
			return err
		}
		full = err // the map tools failed: the single-id mode, saying why
	}
	if single.Pid > 0 {
		// Made on purpose while the full mode was to be had, which it is no
		// more: every command may join it now.
		return single.relabel(full)
	}
	return createSingleHolder(false, full)
}

// HolderPid returns the pid of the live full-mode holder, or 0 when there
// is none.
func HolderPid() int { return livePid(PidFile()) }

// livePid reads a holder's pid file ("PID START", then what single.go
// adds) and returns the pid when that process still lives, else 0.
func livePid(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(first)
	if len(f) != 2 && len(f) != 3 {
		return 0
	}
	pid, _ := strconv.Atoi(f[0])
	if pid <= 0 {
		return 0
	}
	if state := procState(pid); strconv.FormatUint(ProcStartTime(pid), 10) != f[1] || state == "Z" || state == "X" {
		return 0 // gone, replaced, or a zombie not reaped yet
	}
	return pid
}

// createHolder starts a process in a new user and mount namespace, maps
// every id the user owns into it, and publishes its pid.
func createHolder() error {
	uid, gid := HostUID(), HostGID()
	name, err := userName(uid)
	if err != nil {
		return err
	}
	uids, err := SubIDs(name, uid, UIDs)
	if err != nil {
		return hint.Wrap(err, SubIDFix(name, uid))
	}
	gids, err := SubIDs(name, uid, GIDs)
	if err != nil {
		return hint.Wrap(err, SubIDFix(name, uid))
	}
	newuidmap, err := mapTool("newuidmap")
	if err != nil {
		return err
	}
	newgidmap, err := mapTool("newgidmap")
	if err != nil {
		return err
	}

	holder, err := startHolder(newuidmap, MapArgs(uid, uids), newgidmap, MapArgs(gid, gids), hostSysctls)
	if err != nil {
		return err
	}
	pid := holder.Process.Pid
	if err := writeFileAtomic(PidFile(), fmt.Sprintf("%d %d\n", pid, ProcStartTime(pid))); err != nil {
		_ = holder.Process.Kill()
		_ = holder.Wait()
		return err
	}
	return holder.Process.Release()
}

// startHolder starts the holder in a new user and mount namespace and has
// the map tools write its id maps. Either step failing is diagnosed against
// the host's settings in p: a kernel or AppArmor that restricts user
// namespaces may let the clone succeed and refuse what follows (writing the
// maps, mounting), and that setting, not the ranges, is then the fix.
func startHolder(uidTool string, uidArgs []string, gidTool string, gidArgs []string, p procSys) (*exec.Cmd, error) {
	holder := exec.Command("/proc/self/exe")
	holder.Args = []string{"crun-lite-ns"}
	holder.Env = []string{"_CRUNLITE_ROLE=holder"}
	holder.Dir = "/"
	holder.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		Setsid:     true,
	}
	if err := holder.Start(); err != nil {
		return nil, diagnoseUserns(fmt.Errorf("create user namespace: %w", err), p)
	}
	if err := writeMaps(holder.Process.Pid, uidTool, uidArgs, gidTool, gidArgs); err != nil {
		_ = holder.Process.Kill()
		_ = holder.Wait()
		if cause, _ := p.usernsBlocker(); cause != "" {
			return nil, diagnoseUserns(err, p)
		}
		return nil, &mapToolError{err}
	}
	return holder, nil
}

// mapToolError is newuidmap or newgidmap failing on a host that allows user
// namespaces: the single-id mode, which needs neither, can still work.
type mapToolError struct{ err error }

func (e *mapToolError) Error() string { return e.err.Error() }
func (e *mapToolError) Unwrap() error { return e.err }

// writeMaps runs newuidmap and newgidmap side by side: together they are the
// slowest part of creating the namespace (about 1.6 ms in parallel, 3 ms one
// after the other).
func writeMaps(pid int, uidTool string, uidArgs []string, gidTool string, gidArgs []string) error {
	p := strconv.Itoa(pid)
	cmds := []*exec.Cmd{
		exec.Command(uidTool, append([]string{p}, uidArgs...)...),
		exec.Command(gidTool, append([]string{p}, gidArgs...)...),
	}
	var outs [2]bytes.Buffer
	for i, c := range cmds {
		c.Stdout, c.Stderr = &outs[i], &outs[i]
		if err := c.Start(); err != nil {
			return err
		}
	}
	var first error
	for i, c := range cmds {
		if err := c.Wait(); err != nil && first == nil {
			msg := strings.TrimSpace(outs[i].String())
			first = hint.Wrap(fmt.Errorf("%s %s: %s (%w)", filepath.Base(c.Path), strings.Join(c.Args[1:], " "), msg, err),
				"check the ranges in /etc/subuid and /etc/subgid and that newuidmap and newgidmap are setuid root (crun-lite doctor)")
		}
	}
	return first
}

// mapTool finds newuidmap or newgidmap and checks it can do its job.
func mapTool(name string) (string, error) {
	// PATH only, as containers/storage finds them for Podman: a PATH
	// without them is how a user runs without them (the single-id mode).
	path, err := exec.LookPath(name)
	if err != nil {
		return "", hint.Wrap(fmt.Errorf("%s not found in PATH: it maps the subordinate ids of the full mode", name),
			"install package uidmap: sudo apt-get install uidmap")
	}
	capability := mapToolCaps[name]
	if ok, why := Privileged(path, capability); !ok {
		return "", hint.Wrap(fmt.Errorf("%s %s", path, why),
			fmt.Sprintf("sudo chmod u+s %s (or: sudo setcap %s+ep %s)", path, capName[capability], path))
	}
	return path, nil
}

// mapToolCaps is the capability each map tool needs to write its map.
var mapToolCaps = map[string]int{"newuidmap": unix.CAP_SETUID, "newgidmap": unix.CAP_SETGID}

var capName = map[int]string{unix.CAP_SETUID: "cap_setuid", unix.CAP_SETGID: "cap_setgid"}

// Privileged reports how a map tool gets the privilege to write id maps
// ("is setuid root"), or false and why it has none ("is neither ...").
// File capabilities only count when they include capability, effective.
func Privileged(path string, capability int) (bool, string) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return false, err.Error()
	}
	if st.Mode&unix.S_ISUID != 0 && st.Uid == 0 {
		return true, "is setuid root"
	}
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, "security.capability", buf)
	if err != nil || n <= 0 {
		return false, "is neither setuid root nor given file capabilities"
	}
	if !fileCapEffective(buf[:n], capability) {
		return false, "is not setuid root, and its file capabilities lack " + capName[capability] + "+ep"
	}
	return true, "has " + capName[capability] + "+ep as a file capability"
}

// fileCapEffective reads a security.capability xattr (struct
// vfs_cap_data, little endian: magic and flags, then permitted and
// inheritable per 32 capabilities) and reports whether capability is
// permitted with the effective flag set.
func fileCapEffective(xattr []byte, capability int) bool {
	const effective = 0x1 // VFS_CAP_FLAGS_EFFECTIVE
	if len(xattr) < 12 || capability >= 32 {
		return false
	}
	magic := binary.LittleEndian.Uint32(xattr[0:4])
	permitted := binary.LittleEndian.Uint32(xattr[4:8])
	return magic&effective != 0 && permitted&(1<<capability) != 0
}

func userName(uid int) (string, error) {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username, nil
	}
	if n := os.Getenv("USER"); n != "" {
		return n, nil
	}
	return "", fmt.Errorf("uid %d has no user name: subordinate ids are assigned by name", uid)
}

// procState returns the state of process pid (field 3 of /proc/PID/stat).
func procState(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return ""
	}
	return string(data[i+2])
}

func writeFileAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
