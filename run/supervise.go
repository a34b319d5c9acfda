package run

import (
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/faults"
	"github.com/crun-lite/crun-lite/internal/resident"
	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/userns"
)

// Supervise waits for a started container, forwarding our signals to it
// and copying its terminal, and returns its exit code. Meanwhile, off the
// start path, it records what a later command needs to find the container
// (its pid's start time, the spec), collects what earlier runs left
// behind and gives back memory the wait does not need.
func Supervise(p *Process) (int, error) {
	c := p.c
	defer p.end()
	running := make(chan struct{})
	var written chan struct{} // closed once the spec is on disk
	// A process exec'd into a running container (StartExec) has no run
	// dir of its own: there is nothing to record.
	if c.rd != nil {
		c.markRunning()
		c.rd.State.Pid = p.Pid
		// The run dir as it is now: Close, which may come first when the
		// command ends at once, drops c.rd.
		rd := c.rd
		written = make(chan struct{})
		go func() {
			rd.State.PidStart = userns.ProcStartTime(p.Pid)
			path := c.specPath(rd)
			if c.Spec.Write(path) == nil {
				rd.State.SpecPath = path
			}
			_ = rd.Save()
			close(written)
			state.CollectGarbage(c.st)
			shrinkWhileWaiting(running)
		}()
	}
	faults.At("run:running")
	code, err := p.ch.Wait()
	close(running)
	c.stdio.finish()
	c.opts.Timing.Mark("container run")
	if c.rd != nil {
		if c.kept != nil && !c.Spec.Remove {
			// A kept container's spec outlives the run, for inspect:
			// a command that ended at once must not take it along
			// unwritten when crun-lite exits.
			<-written
		}
		c.markExited(code)
	}
	return code, err
}

// specPath is where the monitor writes the container's spec: a kept
// container's goes into the dir storage keeps for it, where inspect still
// finds it once the run dir is gone; a --rm run's into its run dir. The
// store is open already for a kept container (createKept): naming the
// file costs no more than the run dir's.
func (c *Container) specPath(rd *state.Dir) string {
	if c.kept != nil && !c.Spec.Remove {
		if p, err := c.st.ContainerFile(c.kept.ID, "spec.json"); err == nil {
			return p
		}
	}
	return rd.Join("spec.json")
}

func (c *Container) markRunning() {
	if c.kept != nil && !c.Spec.Remove {
		c.kept.Status, c.kept.Started = "running", time.Now()
		_ = c.st.SaveContainer(c.kept)
	}
}

// markExited records the exit in the store; when that fails (a full disk)
// the code goes into the run dir's record, which Close then leaves for the
// garbage collector to save once it can.
func (c *Container) markExited(code int) {
	if c.kept != nil && !c.Spec.Remove {
		c.kept.Status, c.kept.ExitCode, c.kept.Finished = "exited", code, time.Now()
		if c.st.SaveContainer(c.kept) != nil {
			c.rd.State.ExitCode = &code
			_ = c.rd.Save()
			c.keepRunDir = true
		}
	}
}

// shrinkAfter is how long a container runs before its monitor gives back
// the memory it needs only at the start and at the end: a command that ends
// sooner (most --rm runs) pays nothing, not even the minor faults at exit.
const shrinkAfter = 500 * time.Millisecond

// shrinkWhileWaiting drops the monitor's resident pages of its binary and
// libraries once the container has run for shrinkAfter (see
// internal/resident): the monitor then only waits, and its resident set
// goes from about 13 to about 6.5 MiB for the rest of the container's life
// (make bench, "after 2 s"). The page cache keeps the pages.
func shrinkWhileWaiting(running <-chan struct{}) {
	select {
	case <-running:
	case <-time.After(shrinkAfter):
		resident.Shrink() // best effort: nothing depends on it
	}
}

// forwardedSignals are passed on to the container, as Podman's --sig-proxy
// does; SIGCHLD, SIGPIPE, SIGURG (the Go runtime's) and SIGWINCH (a resize,
// see terminal.go) are ours.
var forwardedSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGALRM, unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGPWR,
	unix.SIGVTALRM, unix.SIGPROF, unix.SIGIO, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGSYS, unix.SIGTRAP,
}

// forwarder passes our signals on to the container's first process. A pid
// 1 without a handler ignores SIGTERM (the kernel protects namespace inits),
// so after a SIGTERM the container gets stopTimeout to exit before SIGKILL,
// which the kernel delivers to a namespace's init from outside.
type forwarder struct {
	ch   chan os.Signal
	hup  chan struct{} // our terminal hung up
	done chan struct{}
}

// catchSignals starts catching the forwarded signals; they wait in the
// channel until forwardTo knows where to send them.
func catchSignals() *forwarder {
	f := &forwarder{ch: make(chan os.Signal, 16), hup: make(chan struct{}, 1), done: make(chan struct{})}
	signal.Notify(f.ch, forwardedSignals...)
	return f
}

func (f *forwarder) forwardTo(pid int, stopTimeout time.Duration) {
	go func() {
		var kill <-chan time.Time
		for {
			select {
			case s := <-f.ch:
				_ = unix.Kill(pid, s.(unix.Signal))
				if s == unix.SIGTERM && kill == nil && stopTimeout > 0 {
					kill = time.After(stopTimeout)
				}
			case <-f.hup:
				// Like SIGTERM: nobody is left to end the container.
				_ = unix.Kill(pid, unix.SIGHUP)
				if kill == nil && stopTimeout > 0 {
					kill = time.After(stopTimeout)
				}
			case <-kill:
				_ = unix.Kill(pid, unix.SIGKILL)
			case <-f.done:
				return
			}
		}
	}()
}

// hangup tells the container our terminal is gone: SIGHUP, then SIGKILL
// after the stop timeout. A SIGHUP sent to us is only forwarded: a daemon may
// take it as "reload".
func (f *forwarder) hangup() {
	select {
	case f.hup <- struct{}{}:
	default:
	}
}

// stop ends forwarding. The signals stay caught (signal.Stop costs a round
// trip to the runtime's signal goroutine per signal, ~2 ms for all of them,
// and crun-lite is about to exit): one arriving now is dropped instead of
// killing us before we report the container's exit code.
func (f *forwarder) stop() {
	close(f.done)
}
