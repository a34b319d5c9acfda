package run

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/run/monitor"
	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/userns"
)

// exec -it under a monitor, so that its detach keys leave it running.
//
// exec -it on a terminal forks in the constructor as run -it does
// (userns/detach.c): this child starts the command, then becomes the
// command's monitor (run/monitor, the same program as a detached
// container's) with a dir of its own below the container's run dir,
// execs/ID, for its exit file, attach socket and lock; the waiting parent
// attaches over the connection we hand it, told the command's pid instead
// of a container ID. The monitor runs no cleanup: the dir goes with the
// container's run dir. Its output is not logged (Podman logs none either).

// execsDir holds the exec monitors' dirs in a container's run dir.
const execsDir = "execs"

// execMonitor replaces this process with the monitor of pid, the exec'd
// command, from the thread that started it. It returns only on failure.
func (c *Container) execMonitor(runDir string, pid int) error {
	dir := filepath.Join(runDir, execsDir, state.NewID()[:16])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
	}
	if err == nil {
		err = monitor.ReserveExit(dir)
	}
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	ctl, err := monitor.Listen(dir)
	if err != nil {
		return err
	}
	if err := handAttach(dir, strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	a := monitor.Args{RunDir: dir, Pid: pid, Lock: int(lock.Fd()), Out: -1, Err: -1, PTY: -1, In: -1, Ctl: ctl}
	if c.stdio.master != nil {
		a.PTY = int(c.stdio.master.Fd())
	}
	return monitor.Exec(a)
}

// ExecSession is the exec'd command behind an attach connection our child
// handed us (userns.AttachID: its pid), for AttachOver's signals.
func ExecSession(name string) *Info {
	pid, _ := strconv.Atoi(userns.AttachID())
	in := &Info{Name: name, Status: "running", Pid: pid, StopTimeout: 10 * time.Second} // Podman's default: the container's own is its child's to know
	in.pidStart = userns.ProcStartTime(pid)
	return in
}
