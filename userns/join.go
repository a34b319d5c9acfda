package userns

/*
#include "nsjoin.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	if !Joined() {
		return
	}
	// containers/storage and containers/image read these to behave as under
	// rootless Podman (user.* overlay xattrs, per-user default paths);
	// processes we start (storage's re-exec helpers) inherit them.
	uid, gid := strconv.Itoa(int(C.crunlite_host_uid)), strconv.Itoa(int(C.crunlite_host_gid))
	for k, v := range map[string]string{
		"_CONTAINERS_USERNS_CONFIGURED": "done",
		"_CONTAINERS_ROOTLESS_UID":      uid,
		"_CONTAINERS_ROOTLESS_GID":      gid,
		"_CRUNLITE_HOST_UID":            uid,
		"_CRUNLITE_HOST_GID":            gid,
		usernsModeEnv:                   modeName(C.crunlite_joined_single != 0),
	} {
		os.Setenv(k, v)
	}
}

// usernsModeEnv says to the processes started inside the namespace which
// one it is: "single" or "full" (nsjoin.c's publish_join sets it too).
const usernsModeEnv = "_CRUNLITE_USERNS"

func modeName(single bool) string {
	if single {
		return "single"
	}
	return "full"
}

// Single reports whether this process runs in the single-id namespace
// (single.go), which maps the user alone.
func Single() bool {
	if Joined() {
		return C.crunlite_joined_single != 0
	}
	return Inside() && os.Getenv(usernsModeEnv) == "single"
}

// Joined reports whether the C constructor moved this process into the
// holder's user and mount namespaces.
func Joined() bool { return C.crunlite_joined != 0 }

// joinError is why the constructor found a holder but could not join it, or "".
func joinError() string { return C.GoString(&C.crunlite_join_error[0]) }

// Inside reports whether this process runs in the per-user namespace:
// joined by the constructor, or started by a process that had (crun-lite
// hands most commands to crun-lite-full, which inherits the namespace).
func Inside() bool {
	return Joined() || (os.Geteuid() == 0 && os.Getenv("_CONTAINERS_USERNS_CONFIGURED") != "" && os.Getenv("_CRUNLITE_HOST_UID") != "")
}

// HostUID returns the caller's uid on the host, also from inside the
// namespace, where getuid() answers 0.
func HostUID() int { return hostID(int(C.crunlite_host_uid), "_CRUNLITE_HOST_UID", os.Getuid) }

// HostGID returns the caller's primary gid on the host.
func HostGID() int { return hostID(int(C.crunlite_host_gid), "_CRUNLITE_HOST_GID", os.Getgid) }

func hostID(fromC int, env string, get func() int) int {
	if Joined() {
		return fromC
	}
	// Helpers re-executed from a joined process (containers/storage's
	// reexec) inherit the value through the environment.
	if v, err := strconv.Atoi(os.Getenv(env)); err == nil && os.Geteuid() == 0 {
		return v
	}
	return get()
}

// Rootless reports whether crun-lite runs for an unprivileged host user (in
// or out of the namespace) rather than for real root.
func Rootless() bool { return HostUID() != 0 }

// DetachEnv is the environment variable in which a command that detached
// tells its re-executions (exeseal.c) that the constructor forked already
// (CRUNLITE_DETACH_ENV of nsjoin.h): a crun-lite started as a new command
// must not inherit it, or it would not fork for its own detach.
const DetachEnv = "_CRUNLITE_DETACH_FD"

// DetachFD is the pipe to the waiting parent of `run -d`, which the
// constructor forked (detach.c), or -1 when this command line does not
// detach. It is close-on-exec: only the process that detaches writes it.
func DetachFD() int { return detachFD }

var detachFD = func() int {
	fd := int(C.crunlite_detach_fd)
	if fd >= 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
			return -1
		}
	}
	return fd
}()

// AttachFD is, in start -a's waiting parent (detach.c), the connection to
// the attach socket of the container its child started, or -1. The parent
// attaches over it and starts nothing.
func AttachFD() int { return attachFD }

var attachFD = func() int {
	fd := int(C.crunlite_attach_fd)
	if fd >= 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
			return -1
		}
	}
	return fd
}()

// AttachID is, beside AttachFD, the ID of the container attached to.
func AttachID() string { return C.GoString(&C.crunlite_attach_id[0]) }

// SendAttach hands conn, a connection to the attach socket of container
// id, to start -a's waiting parent over the detach fd, with the byte that
// ends its wait (detach.c).
func SendAttach(conn int, id string) error {
	if detachFD < 0 {
		return errors.New("no waiting parent to attach")
	}
	if len(id) >= len(C.crunlite_attach_id) {
		return fmt.Errorf("attach: container ID %q too long", id)
	}
	return unix.Sendmsg(detachFD, append([]byte{0}, id...), unix.UnixRights(conn), nil, 0)
}

// RunValueFlagsKnownToC lists run's options the constructor skips with
// their value while looking for -d, and its short ones that take a value.
func RunValueFlagsKnownToC() (long []string, short string) {
	for i := C.int(0); C.crunlite_run_value_flag(i) != nil; i++ {
		long = append(long, C.GoString(C.crunlite_run_value_flag(i)))
	}
	return long, C.GoString(C.crunlite_run_short_values())
}

// ExecValueFlagsKnownToC is RunValueFlagsKnownToC for exec.
func ExecValueFlagsKnownToC() (long []string, short string) {
	for i := C.int(0); C.crunlite_exec_value_flag(i) != nil; i++ {
		long = append(long, C.GoString(C.crunlite_exec_value_flag(i)))
	}
	return long, C.GoString(C.crunlite_exec_short_values())
}

// ValueFlagsKnownToC lists the global options the constructor skips with
// their value while looking for the command name.
func ValueFlagsKnownToC() []string {
	var out []string
	for i := C.int(0); C.crunlite_value_flag(i) != nil; i++ {
		out = append(out, C.GoString(C.crunlite_value_flag(i)))
	}
	return out
}

// pidFile asks nsjoin.c for the holder's pid file of hostUID, the path its
// constructor joins by: the rule is written there only.
func pidFile(hostUID int) string { return holderFile(hostUID, false) }

// singlePidFile is the pid file of the single-id holder, beside pidFile's.
func singlePidFile(hostUID int) string { return holderFile(hostUID, true) }

func holderFile(hostUID int, single bool) string {
	buf := make([]C.char, 256)
	for {
		var n int
		if single {
			n = int(C.crunlite_single_pidfile_path(&buf[0], C.size_t(len(buf)), C.int(hostUID)))
		} else {
			n = int(C.crunlite_pidfile_path(&buf[0], C.size_t(len(buf)), C.int(hostUID)))
		}
		if n < 0 {
			return "" // snprintf failed: nothing Go could open either
		}
		if n < len(buf) {
			return filepath.Clean(C.GoString(&buf[0]))
		}
		buf = make([]C.char, n+1)
	}
}

// StartTime returns when this process's first code ran (the constructor),
// for --timing: the Go runtime's own start is part of what it measures.
func StartTime() time.Time {
	var ts unix.Timespec
	if C.crunlite_ctor_ns == 0 || unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return time.Time{}
	}
	return time.Now().Add(-time.Duration(ts.Nano() - int64(C.crunlite_ctor_ns)))
}

// ProcStartTime returns the start time of process pid in clock ticks since
// boot (field 22 of /proc/PID/stat), 0 if it is gone: with the pid it names
// one process for the life of the system. The holder's pid file and a
// container's state record keep it; nsjoin.c reads it the same way.
func ProcStartTime(pid int) uint64 {
	return uint64(C.crunlite_proc_starttime(C.int(pid)))
}

// ExeSafe returns nil when no container started by this process can change
// the crun-lite binary through /proc/self/exe (the constructor re-executed
// it from a read-only copy, or the kernel refuses the changes anyway; see
// exeseal.c), and otherwise why not. Starting a container must fail then.
func ExeSafe() error {
	switch C.crunlite_exe_state {
	case C.CRUNLITE_EXE_SAFE, C.CRUNLITE_EXE_TEST:
		return nil
	case C.CRUNLITE_EXE_UNSAFE:
		return fmt.Errorf("refusing to start a container that could change the crun-lite binary: %s", C.GoString(&C.crunlite_exe_error[0]))
	}
	return errors.New("refusing to start a container: this command did not protect the crun-lite binary from it (not in the constructor's list of commands that start containers)")
}

// Executable returns the path this binary was started as. After the
// constructor re-executed it from a read-only copy, /proc/self/exe names
// that copy ("/"); the original path comes in the environment and is taken
// only when it names the very file that runs, so the environment cannot
// point crun-lite at another binary.
func Executable() (string, error) {
	if p := os.Getenv(C.CRUNLITE_EXE_ENV); p != "" && sameFile(p, "/proc/self/exe") {
		return p, nil
	}
	return os.Executable()
}

func sameFile(a, b string) bool {
	var sa, sb unix.Stat_t
	return unix.Stat(a, &sa) == nil && unix.Stat(b, &sb) == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
