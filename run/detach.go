package run

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/run/monitor"
	"github.com/crun-lite/crun-lite/userns"
)

// DetachOptions say how a detached start reports and cleans up.
type DetachOptions struct {
	// ID gets the container's ID, one line, once it runs.
	ID io.Writer
	// Say is printed to ID instead of the ID when set: start and restart
	// print the container as the user named it, as Podman does.
	Say string
	// Attach: print nothing, and hand the waiting parent a connection to
	// the monitor's attach socket instead (start -a, userns.AttachFD).
	Attach bool
	// Cleanup is the command line (argv[0] first) the monitor execs once
	// the container exited, given the container's ID: crun-lite's
	// `container cleanup ID` with the global options of this command.
	Cleanup func(id string) []string
}

// Detach starts the container prepared with Options.Detach in the
// background: it prints its ID, tells the command's waiting parent
// (userns/detach.c) to exit 0, and replaces this process with the
// container's monitor (run/monitor), from the thread that cloned the
// container. It returns only on failure, having cleaned up.
func (c *Container) Detach(o DetachOptions) error {
	fd := userns.DetachFD()
	if fd < 0 {
		c.Close()
		return coded(errors.New("cannot detach: the command line was not recognised as one that detaches (run -d with -d or --detach among run's options, before the image; start without --attach; restart)"))
	}
	var pipes []*os.File
	closeAll := func() {
		for _, f := range pipes {
			f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		if r, w, err = os.Pipe(); err == nil {
			pipes = append(pipes, r, w)
		}
		return r, w, err
	}
	s := c.Spec
	io := Stdio{Detached: true}
	var outR, errR, inW *os.File
	if !s.Process.Terminal {
		var w1, w2 *os.File
		var err error
		if outR, w1, err = pipe(); err == nil {
			errR, w2, err = pipe()
		}
		if err != nil {
			closeAll()
			c.Close()
			return coded(fmt.Errorf("detach: %w", err))
		}
		io.Out, io.Err = w1, w2
		if s.Process.Interactive {
			var r *os.File
			if r, inW, err = pipe(); err != nil {
				closeAll()
				c.Close()
				return coded(fmt.Errorf("detach: %w", err))
			}
			io.In = r
		}
	}
	log := c.rd.Join("ctr.log")
	if c.kept != nil && !s.Remove {
		if p, err := c.st.ContainerLogPath(c.kept.ID); err == nil {
			log = p
		}
	}
	c.rd.State.Detached, c.rd.State.LogPath = true, log
	ctl, err := monitor.Listen(c.rd.Path)
	if err == nil {
		if err = monitor.ReserveExit(c.rd.Path); err != nil {
			unix.Close(ctl)
		}
	}
	if err != nil {
		closeAll()
		c.Close()
		return coded(err)
	}
	pipes = append(pipes, os.NewFile(uintptr(ctl), "attach"))
	c.rd.State.ControlSocket = c.rd.Join(monitor.SocketName)
	p, err := c.Start(io, Hooks{})
	if err != nil {
		closeAll()
		c.Close()
		return err
	}
	// Our copies of the child's ends: the monitor must see EOF when the
	// container's last writer is gone.
	for _, f := range []*os.File{io.Out, io.Err, io.In} {
		if f != nil {
			f.Close()
		}
	}
	c.markRunning()
	rd := c.rd
	rd.State.Pid, rd.State.PidStart, rd.State.Started = p.Pid, userns.ProcStartTime(p.Pid), time.Now()
	if path := c.specPath(rd); s.Write(path) == nil {
		rd.State.SpecPath = path
	}
	if err := rd.Save(); err != nil {
		p.ch.Kill()
		_, _ = p.ch.Wait()
		closeAll()
		p.end()
		c.Close()
		return coded(fmt.Errorf("detach: save state: %w", err))
	}
	if o.Attach {
		// Connected before the monitor runs, which accepts it before it
		// reads any output: the attacher misses nothing.
		err := handAttach(rd.Path, s.ID)
		if err != nil {
			p.ch.Kill()
			_, _ = p.ch.Wait()
			closeAll()
			p.end()
			c.Close()
			return coded(fmt.Errorf("attach: %w", err))
		}
	} else {
		say := s.ID
		if o.Say != "" {
			say = o.Say
		}
		fmt.Fprintln(o.ID, say)
		// The shell's command returns now; from here nothing is printed.
		_, _ = os.NewFile(uintptr(fd), "detach").Write([]byte{0})
	}
	a := monitor.Args{RunDir: rd.Path, Pid: p.Pid, Lock: rd.LockFD(), Out: -1, Err: -1, PTY: -1, In: -1, Ctl: ctl,
		Log: log, LogMax: s.LogMaxSize, Cleanup: o.Cleanup(s.ID)}
	if outR != nil {
		a.Out, a.Err = int(outR.Fd()), int(errR.Fd())
	}
	if inW != nil {
		a.In = int(inW.Fd())
	}
	if c.stdio.master != nil {
		a.PTY = int(c.stdio.master.Fd())
	}
	c.keepProxyOnExec() // the monitor holds the bus proxies' pipes until it is done
	err = monitor.Exec(a)
	runtime.KeepAlive(pipes) // their fds are the monitor's: no finalizer may close them first
	// No monitor: nobody would reap the container or log it.
	p.ch.Kill()
	_, _ = p.ch.Wait()
	closeAll()
	p.end()
	c.Close()
	return coded(err)
}
