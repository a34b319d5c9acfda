package userns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
)

// # The single-id mode
//
// A user with no subordinate ids (no line in /etc/subuid or /etc/subgid,
// as LDAP and SSSD accounts often are) or without working newuidmap and
// newgidmap still gets a user namespace: one that maps the user alone,
// container root being the user. A process may write such a map for a
// child of its own without any helper ("0 UID 1" in uid_map, after "deny"
// in setgroups for gid_map), so the holder of this namespace is made like
// the other and commands join it the same way (nsjoin.c); only the maps
// differ. Every file of an image then belongs to container root (the
// store's ignore_chown_errors, package store) and calls that need another
// id are faked by the containers' seccomp filter (internal/seccomp's root
// emulation).
//
// The mode is chosen when the holder is made: the full mode whenever the
// user has it (FullModeError is nil), else this one; or on purpose with
// --userns=single (a global option, and one of run's and create's, which
// the constructor reads from argv like the command itself). The two
// holders have pid files of their own, userns.pid (full mode) and
// userns.single.pid, so a user who has the full mode may use both. The
// single-id pid file says after "PID START" whether its holder was made
// for want of the full mode ("auto": every command joins it when there is
// no full-mode holder) or on purpose ("chosen": only --userns=single joins
// it), and on its next two lines why and what would give the full mode.
// A user who gets subordinate ids later keeps the namespace made before
// them while it lives: FullModeNow says so on every command, and `system
// migrate` ends it.

const (
	labelAuto   = "auto"
	labelChosen = "chosen"
)

// SinglePidFile returns the path of the single-id holder's pid file.
func SinglePidFile() string { return singlePidFile(HostUID()) }

// SingleHolderInfo is what the single-id holder's pid file says.
type SingleHolderInfo struct {
	Pid    int    // the live holder, 0 when there is none
	Chosen bool   // made with --userns=single by a user who had the full mode
	Reason string // why the single-id mode: what the full mode lacks, or the option
	Fix    string // the command that gives the full mode ("" when chosen)
}

// SingleHolder reads the single-id holder's pid file; Pid is 0 when its
// holder is gone (Reason and the rest still say what it was).
func SingleHolder() SingleHolderInfo {
	path := SinglePidFile()
	data, err := os.ReadFile(path)
	if err != nil {
		return SingleHolderInfo{}
	}
	lines := strings.SplitN(string(data), "\n", 4)
	f := strings.Fields(lines[0])
	info := SingleHolderInfo{Pid: livePid(path), Chosen: len(f) == 3 && f[2] == labelChosen}
	if len(lines) > 1 {
		info.Reason = lines[1]
	}
	if len(lines) > 2 {
		info.Fix = lines[2]
	}
	return info
}

// FullModeError returns nil when the host gives this user the full mode:
// subordinate uids and gids, and newuidmap and newgidmap that may write
// them. Otherwise it returns the first thing missing, with its fix as the
// hint. It must run on the host (before joining, or in doctor): inside the
// namespace the map tools' owner, root, is nobody.
func FullModeError() error {
	uid := HostUID()
	name, err := userName(uid)
	if err != nil {
		return err
	}
	for _, k := range []Kind{UIDs, GIDs} {
		if _, err := SubIDs(name, uid, k); err != nil {
			return hint.Wrap(err, SubIDFix(name, uid))
		}
	}
	for _, tool := range []string{"newuidmap", "newgidmap"} {
		if _, err := mapTool(tool); err != nil {
			return err
		}
	}
	return nil
}

// createSingleHolder starts the single-id holder and publishes its pid
// with why: chosen when the user had the full mode (why is then nil).
func createSingleHolder(chosen bool, why error) error {
	holder, err := startSingleHolder(hostSysctls)
	if err != nil {
		return err
	}
	pid := holder.Process.Pid
	if err := writeFileAtomic(SinglePidFile(), singleRecord(pid, ProcStartTime(pid), chosen, why)); err != nil {
		_ = holder.Process.Kill()
		_ = holder.Wait()
		return err
	}
	return holder.Process.Release()
}

// relabel makes a chosen holder one that every command joins, now that
// the full mode is not to be had (why).
func (s SingleHolderInfo) relabel(why error) error {
	return writeFileAtomic(SinglePidFile(), singleRecord(s.Pid, ProcStartTime(s.Pid), false, why))
}

// singleRecord is the content of the single-id pid file.
func singleRecord(pid int, start uint64, chosen bool, why error) string {
	label, reason, fix := labelAuto, "", ""
	if chosen {
		label, reason = labelChosen, "chosen with --userns=single"
	} else if why != nil {
		reason, fix = oneLine(why.Error()), oneLine(hint.Of(why))
	}
	return fmt.Sprintf("%d %d %s\n%s\n%s\n", pid, start, label, reason, fix)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// startSingleHolder starts the holder in a new user and mount namespace
// that maps the user's uid and gid alone, written by this process (Go's
// os/exec writes "deny" to setgroups first, which the gid map needs).
func startSingleHolder(p procSys) (*exec.Cmd, error) {
	holder := exec.Command("/proc/self/exe")
	holder.Args = []string{"crun-lite-ns"}
	holder.Env = []string{"_CRUNLITE_ROLE=holder"}
	holder.Dir = "/"
	holder.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		Setsid:                     true,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: HostUID(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: HostGID(), Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
	if err := holder.Start(); err != nil {
		return nil, diagnoseUserns(fmt.Errorf("create the single-id user namespace: %w", err), p)
	}
	return holder, nil
}

// SingleModeLine is what a new store of the single-id mode says once: the
// mode, why, and the fix that would give the full mode.
func SingleModeLine() string {
	s := SingleHolder()
	if s.Chosen {
		return "single-id mode, chosen with --userns=single: container root and every other user of a container are you, and its files are yours"
	}
	line := "single-id mode (" + strings.TrimSuffix(s.Reason, ".") + "): container root and every other user of a container are you, and its files are yours"
	if s.Fix != "" {
		line += "; for the full mode an admin runs: " + s.Fix
	}
	return line
}

// FullModeNow returns, for a command in a single-id namespace made for
// want of the full mode, what to do now that the host seems to give the
// full mode (the user has lines in /etc/subuid and /etc/subgid, and PATH
// has newuidmap and newgidmap with their privilege), else "". It runs
// inside the namespace, on every command there, so it only reads files:
// ranges that only an NSS plugin serves are left to doctor.
func FullModeNow() string {
	if !Single() {
		return ""
	}
	// The pid file first: one small read, and a chosen namespace (or one
	// gone) settles it.
	s := SingleHolder()
	if s.Chosen || s.Pid == 0 {
		return ""
	}
	uid := HostUID()
	name := passwdName(uid)
	for _, k := range []Kind{UIDs, GIDs} {
		data, _ := os.ReadFile(k.file())
		if len(parseSubIDFile(data, name, uid)) == 0 {
			return ""
		}
	}
	for _, tool := range []string{"newuidmap", "newgidmap"} {
		if !mayMap(tool) {
			return ""
		}
	}
	return fmt.Sprintf("%s has subordinate ids and newuidmap now, but this command runs in the single-id namespace made before (pid %d): "+
		"stop its containers, then run crun-lite system migrate; the full mode keeps its images in a store of its own, so pull them again there", name, s.Pid)
}

// mayMap reports whether a map tool in PATH looks privileged as seen from
// inside the namespace, where its owner (root) is not mapped: setuid, or a
// file capability.
func mayMap(tool string) bool {
	path, err := exec.LookPath(tool)
	if err != nil {
		return false
	}
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return false
	}
	if st.Mode&unix.S_ISUID != 0 {
		return true
	}
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, "security.capability", buf)
	return err == nil && fileCapEffective(buf[:n], mapToolCaps[tool])
}

// passwdName returns the name /etc/passwd gives uid, without NSS (which can
// be slow), else $USER.
func passwdName(uid int) string {
	data, _ := os.ReadFile("/etc/passwd")
	id := strconv.Itoa(uid)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if f := strings.Split(sc.Text(), ":"); len(f) > 2 && f[2] == id {
			return f[0]
		}
	}
	return os.Getenv("USER")
}

// StopHolder ends the holder of the namespace this command runs in, for
// `system migrate`: the next command makes a new one, in the mode the host
// gives now. It returns the pid it ended (0: none).
func StopHolder() (int, error) {
	if !Inside() {
		return 0, errors.New("not in a user namespace of crun-lite (real root has none)")
	}
	path := PidFile()
	if Single() {
		path = SinglePidFile()
	}
	pid := livePid(path)
	if pid == 0 {
		return 0, nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return pid, fmt.Errorf("stop the namespace holder %d: %w", pid, err)
	}
	_ = os.Remove(path)
	return pid, nil
}

// WouldBeSingle reports, on the host, whether the next command runs in the
// single-id namespace (chosen: with --userns=single), as the constructor
// and Ensure would decide: a live full-mode holder first, then a live
// single-id one made for want of the full mode, then what the host gives.
func WouldBeSingle(chosen bool) bool {
	if chosen {
		return true
	}
	if HolderPid() > 0 {
		return false
	}
	if s := SingleHolder(); s.Pid > 0 && !s.Chosen {
		return true
	}
	return FullModeError() != nil
}

// CurrentHolderPid returns the pid of the live holder of the namespace this
// process runs in, the single-id one's or the full mode's, or 0.
func CurrentHolderPid() int {
	if Single() {
		return livePid(SinglePidFile())
	}
	return HolderPid()
}
