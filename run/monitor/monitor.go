// Package monitor turns the process that started a detached container into
// the container's monitor (monitor.c): a C role of the binary, exec'd in
// place, that logs the container's output, reaps it, records its exit and
// then runs the cleanup command.
package monitor

/*
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// RoleEnv selects the monitor role in the constructor (userns/nsjoin.c).
const RoleEnv = "_CRUNLITE_ROLE=monitor"

// Args is what the monitor needs. Fds are this process's: they must not be
// close-on-exec (Exec clears the flag).
type Args struct {
	RunDir string
	Pid    int
	Lock   int
	// Out and Err are the read ends of the container's stdout and stderr,
	// or PTY its terminal's master (-1: none).
	Out, Err, PTY int
	// In is the write end of the container's stdin (-i without -t), -1
	// for none.
	In int
	// Ctl is the listening attach socket (Listen), -1 for none.
	Ctl    int
	Log    string
	LogMax int64
	// Cleanup is the command line the monitor execs once the container
	// exited (argv[0] first).
	Cleanup []string
}

// argv is the monitor's command line (monitor.c, parse_args).
func (a Args) argv() []string {
	out := []string{
		"crun-lite-monitor",
		"rundir=" + a.RunDir,
		"pid=" + strconv.Itoa(a.Pid),
		"lock=" + strconv.Itoa(a.Lock),
		"out=" + strconv.Itoa(a.Out),
		"err=" + strconv.Itoa(a.Err),
		"pty=" + strconv.Itoa(a.PTY),
		"in=" + strconv.Itoa(a.In),
		"ctl=" + strconv.Itoa(a.Ctl),
		"log=" + a.Log,
		"logmax=" + strconv.FormatInt(a.LogMax, 10),
		"--",
	}
	return append(out, a.Cleanup...)
}

// Exec replaces this process with the monitor. It must be called from the
// thread that cloned the container. It returns only on failure.
func Exec(a Args) error {
	for _, fd := range []int{a.Lock, a.Out, a.Err, a.PTY, a.In, a.Ctl} {
		if fd >= 0 {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
				return fmt.Errorf("monitor: fd %d: %w", fd, err)
			}
		}
	}
	var env []string
	for _, e := range os.Environ() {
		// The pipe to run -d's waiter is closed; a role is chosen here.
		if !strings.HasPrefix(e, "_CRUNLITE_DETACH_FD=") && !strings.HasPrefix(e, "_CRUNLITE_ROLE=") {
			env = append(env, e)
		}
	}
	env = append(env, RoleEnv)
	return fmt.Errorf("exec monitor: %w", unix.Exec("/proc/self/exe", a.argv(), env))
}

// SocketName is the attach socket's name in the run dir.
const SocketName = "attach"

// Packet kinds of the attach protocol, drawn in monitor.c.
const (
	Input      = 'i' // client → monitor: bytes for the container's stdin
	Resize     = 'w' // client → monitor: rows, cols (big-endian uint16s)
	CloseStdin = 'c' // client → monitor: end of the container's stdin
	Stdout     = 'o' // monitor → client: output
	Stderr     = 'e' // monitor → client: error output
	Exit       = 'x' // monitor → client: exit code (big-endian int32), then hang-up
)

// inDir names a file of dir through an fd of it, so that a socket path
// stays under sun_path's 108 bytes however deep the run dir is.
func inDir(dir string, fn func(path string) error) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn(fmt.Sprintf("/proc/self/fd/%d/%s", fd, SocketName))
}

// Listen makes the attach socket in dir and returns its listening fd
// (close-on-exec until Exec hands it over).
func Listen(dir string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("attach socket: %w", err)
	}
	err = inDir(dir, func(path string) error { return unix.Bind(fd, &unix.SockaddrUnix{Name: path}) })
	if err == nil {
		err = unix.Listen(fd, 8)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("attach socket: %w", err)
	}
	return fd, nil
}

// Dial connects to the attach socket of the monitor of run dir dir.
func Dial(dir string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	err = inDir(dir, func(path string) error { return unix.Connect(fd, &unix.SockaddrUnix{Name: path}) })
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// ExitReserve is the monitor's exit file in the making, in a run dir.
const ExitReserve = ".exit.tmp"

// ReserveExit makes dir's ExitReserve with room for the exit record
// (write_exit in monitor.c writes over it): a disk that fills while the
// container runs must not cost its exit code.
func ReserveExit(dir string) error {
	return os.WriteFile(filepath.Join(dir, ExitReserve), make([]byte, 64), 0o600)
}
