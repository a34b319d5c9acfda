package run

import (
	"io"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/faults"
	"github.com/crun-lite/crun-lite/run/spawn"
)

// Stdio is what the container's fds 0, 1 and 2 are connected to. A
// terminal is never handed over (see terminal.go): with -t the container
// gets a pty of its own, copied to and from these; without, a terminal
// among them is proxied through a pipe. In nil is /dev/null.
type Stdio struct {
	In, Out, Err *os.File
	// Warnings get crun-lite's warnings about the run (nil: Err).
	Warnings io.Writer
	// Detached: nobody copies a terminal; with -t the pty's master is
	// kept for Process.Master (a monitor's), not copied to Out.
	Detached bool
}

// HostStdio is this process's own stdin, stdout and stderr.
func HostStdio() Stdio { return Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// Hooks are where what run/ does not know plugs into a start.
type Hooks struct {
	// Created runs once the container's namespaces and root filesystem
	// exist and before its command is executed, with the container's pid
	// in the monitor's pid namespace (networking, cgroups). An error
	// stops the start: the container is killed and Start returns it.
	Created func(pid int) error
}

// Process is a started container, for Supervise.
type Process struct {
	// Pid is the container's first process, in the monitor's pid namespace.
	Pid int

	c   *Container
	ch  *spawn.Child
	fwd *forwarder
}

// Start mounts the root filesystem, starts the container's first process
// and executes its command. The calling goroutine stays locked to its
// thread until Supervise returns, and must be the one that calls it: the
// child's parent-death signal follows the thread that cloned it.
func (c *Container) Start(io Stdio, h Hooks) (*Process, error) {
	p, err := c.start(io, h)
	return p, coded(err)
}

func (c *Container) start(io Stdio, h Hooks) (*Process, error) {
	t := c.opts.Timing
	s := c.Spec
	c.stdio = newStdio(s.Process.Terminal, s.Process.Interactive, io)
	if s.KeepID != nil {
		k, err := prepareKeepID(s.KeepID)
		if err != nil {
			return nil, err
		}
		c.keep = k
	}
	first := spawn.List{Timing: t != nil}
	if err := c.stdio.prepare(&first); err != nil {
		c.stdio.finish()
		return nil, err
	}
	// From here the child holds no fd of the monitor's but those it needs:
	// nothing leaked to us reaches the container (see spawn.List.CloseFDs).
	var keep []int
	if c.keep != nil {
		keep = append(keep, c.keep.FD)
	}
	if err := c.openJoinedNetns(); err != nil {
		c.stdio.finish()
		return nil, err
	}
	t.Mark("network")
	defer c.closeJoinedNetns()
	if c.joined != nil {
		if err := c.writeNetEtc(); err != nil {
			c.stdio.finish()
			return nil, err
		}
	}
	if c.netnsFD >= 0 {
		keep = append(keep, c.netnsFD)
		// First: sysfs and the loopback below are the joined namespace's.
		first.Setns(c.netnsFD, unix.CLONE_NEWNET, "joined network")
	}
	first.CloseFDs(s.Process.PreserveFDs, keep...)
	if err := c.rootfsOps(&first); err != nil {
		c.stdio.finish()
		return nil, err
	}
	t.Mark("layer lookup")

	// Signals are caught from before the child exists: one sent once the
	// command runs must find the forwarder in place.
	p := &Process{c: c, fwd: catchSignals()}
	runtime.LockOSThread() // the child's parent-death signal follows this thread
	fail := func(err error) (*Process, error) {
		p.end()
		return nil, err
	}
	ch, err := spawn.Start(&first, c.cloneFlags(), !s.Process.Init)
	if err != nil {
		return fail(err)
	}
	p.ch, p.Pid = ch, ch.Pid
	faults.At("run:cloned")
	p.fwd.forwardTo(ch.Pid, s.StopTimeout)
	c.stdio.hangup = p.fwd.hangup
	if err := ch.Next(); err != nil {
		ch.Kill()
		return fail(err)
	}
	for _, pt := range ch.Times {
		t.MarkMono(pt.Phase, pt.NS)
	}
	c.stdio.started(ch.Master)
	c.releaseLocks()
	t.Mark("rootfs setup")
	if h.Created != nil {
		if err := h.Created(ch.Pid); err != nil {
			ch.Kill()
			return fail(err)
		}
	}

	faults.At("run:rootfs")
	last, err := c.execOps(ch.Pid)
	if err != nil {
		ch.Kill()
		return fail(err)
	}
	t.Mark("user and process setup")
	if err := ch.Send(last); err != nil {
		ch.Kill()
		return fail(err)
	}
	if err := ch.Finish(); err != nil {
		_, _ = ch.Wait()
		return fail(err)
	}
	t.Mark("exec")
	return p, nil
}

// end undoes what Start set up in this process: the signal forwarder, the
// terminal and the thread lock.
func (p *Process) end() {
	p.c.stdio.finish()
	p.fwd.stop()
	runtime.UnlockOSThread()
}

func (c *Container) cloneFlags() uintptr {
	f := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC)
	if c.Spec.Net.Own() {
		f |= unix.CLONE_NEWNET
	}
	return f
}
