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
	In     int
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
		"log=" + a.Log,
		"logmax=" + strconv.FormatInt(a.LogMax, 10),
		"--",
	}
	return append(out, a.Cleanup...)
}

// Exec replaces this process with the monitor. It must be called from the
// thread that cloned the container. It returns only on failure.
func Exec(a Args) error {
	for _, fd := range []int{a.Lock, a.Out, a.Err, a.PTY, a.In} {
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
