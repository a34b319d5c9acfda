package run

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/crun-lite/crun-lite/run/spawn"
)

// stdio connects the command's fds 0-2 to crun-lite's.
//
// With -t the container gets a pty of its own (open_pty in run/spawn/spawn.c) and we
// copy between it and our terminal. Without -t, files and pipes are handed
// over as they are (no copying, EOF and separate stdout/stderr come for
// free), but a terminal never is: a process holding the host's terminal could
// push input into the user's shell with TIOCSTI or change its settings, so a
// terminal on any of our fds is proxied through a pipe instead.
type stdio struct {
	tty, interactive bool
	detached         bool      // Stdio.Detached
	master           *os.File  // the pty's master, kept when detached
	in, out, err     *os.File  // the caller's Stdio; in may be nil
	warnings         io.Writer // where warnf writes

	childEnds []*os.File // closed in the monitor once the child has its copies
	outputs   sync.WaitGroup
	inputs    []func()
	restore   func() // undoes raw mode
	stopWinch func()
	// hangup is called when our terminal hangs up under -it: the container
	// loses its user, and a shell as pid 1 ignores the SIGHUP.
	hangup func()
}

func newStdio(tty, interactive bool, io Stdio) *stdio {
	s := &stdio{tty: tty, interactive: interactive, detached: io.Detached, in: io.In, out: io.Out, err: io.Err, warnings: io.Warnings}
	if s.warnings == nil {
		s.warnings = io.Err
	}
	return s
}

// prepare adds the fd moves that must happen before the child's first
// batch runs, and opens the pipes they need.
func (s *stdio) prepare(l *spawn.List) error {
	if s.tty {
		return nil
	}
	// Files that are not ours already at 0, 1 and 2 are moved there; the
	// foreground run's are, and costs nothing.
	for fd, f := range []*os.File{s.in, s.out, s.err} {
		if f != nil && int(f.Fd()) != fd && !isTerminal(f) && (fd != 0 || s.interactive) {
			l.Dup2(int(f.Fd()), fd)
		}
	}
	if s.interactive && s.in != nil && isTerminal(s.in) {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		s.childEnds = append(s.childEnds, r)
		l.Dup2(int(r.Fd()), 0)
		s.inputs = append(s.inputs, func() { _, _ = io.Copy(w, s.in); w.Close() })
	}
	for fd, out := range []*os.File{1: s.out, 2: s.err} {
		if out == nil || !isTerminal(out) {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		s.childEnds = append(s.childEnds, w)
		l.Dup2(int(w.Fd()), fd)
		s.copyOut(out, r)
	}
	return nil
}

// execOps adds what the command's fds and session need in the last batch.
// Every container gets a session of its own: no terminal of ours can be its
// controlling terminal. With -t the terminal goes to uid:gid, the command's
// user in the user namespace these ops run in.
func (s *stdio) execOps(l *spawn.List, uid, gid uint32) {
	if !s.tty && (!s.interactive || s.in == nil) {
		l.Open("/dev/null", 0)
	}
	l.Setsid()
	if s.tty {
		l.Setctty(0)
		l.ChownStdin(uid, gid)
	}
}

// started runs once the child exists: it drops our copies of the child's
// pipe ends and, with -t, connects the pty the child sent.
func (s *stdio) started(master *os.File) {
	for _, f := range s.childEnds {
		f.Close()
	}
	if s.tty && master != nil && s.detached {
		// Sized as the terminal run -it or start -a was typed on, which
		// the attacher's first resize would be too late for (stty
		// size as the command); else the classic 24x80.
		if isTerminal(os.Stdin) {
			resize(master, os.Stdin)
		} else {
			_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
		}
		s.master = master
	} else if s.tty && master != nil {
		s.startTerminal(master)
	}
	for _, in := range s.inputs {
		go in()
	}
}

// startTerminal sizes the container's terminal like ours before the command
// starts, follows our resizes, and with -i puts our terminal in raw mode so
// that keys (Ctrl-C, Ctrl-Z, Ctrl-D) reach the container's line discipline.
func (s *stdio) startTerminal(master *os.File) {
	host := s.hostTerminal()
	if host != nil {
		resize(master, host)
		s.stopWinch = onSignal(unix.SIGWINCH, func() { resize(master, host) })
	} else {
		// No terminal of ours to copy the size from (a script): a 0x0
		// terminal confuses programs, so give the classic 24x80.
		_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
	}
	if s.interactive && s.in != nil {
		onTerminal := isTerminal(s.in)
		if onTerminal {
			if old, err := term.MakeRaw(int(s.in.Fd())); err == nil {
				s.restore = func() { _ = term.Restore(int(s.in.Fd()), old) }
			}
		}
		s.inputs = append(s.inputs, func() {
			// A raw terminal has no end of file (Ctrl-D is a byte like
			// any other): its read ends when it hung up, its window
			// closed. A write that fails means the container is gone.
			if copyInput(master, s.in) && onTerminal && s.hangup != nil {
				s.hangup()
			}
		})
	}
	s.copyOut(s.out, master)
}

// copyInput copies src to dst until either fails; it reports whether src
// ended.
func copyInput(dst io.Writer, src io.Reader) (srcEnded bool) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return false
			}
		}
		if err != nil {
			return true
		}
	}
}

func (s *stdio) copyOut(dst io.Writer, src *os.File) {
	s.outputs.Add(1)
	go func() {
		defer s.outputs.Done()
		// A pty master reads EIO once every slave fd is closed: that is
		// its end of file.
		_, _ = io.Copy(dst, src)
		src.Close()
	}()
}

// finish waits (briefly) for the container's last output and restores our
// terminal. It is safe to call more than once.
func (s *stdio) finish() {
	done := make(chan struct{})
	go func() { s.outputs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second): // a leaked writer must not hang us
	}
	if s.stopWinch != nil {
		s.stopWinch()
		s.stopWinch = nil
	}
	if s.restore != nil {
		s.restore()
		s.restore = nil
	}
	for _, f := range s.childEnds {
		f.Close()
	}
}

// warnf prints a one-line warning to the caller's warnings writer, which
// may be our terminal in raw mode: there a newline does not return the
// carriage.
func (s *stdio) warnf(format string, args ...any) {
	end := "\n"
	if s.restore != nil {
		end = "\r\n"
	}
	fmt.Fprintf(s.warnings, "crun-lite: warning: "+format+end, args...)
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// hostTerminal returns the caller's terminal, for its size, or nil.
func (s *stdio) hostTerminal() *os.File {
	for _, f := range []*os.File{s.in, s.out, s.err} {
		if f != nil && isTerminal(f) {
			return f
		}
	}
	return nil
}

func resize(master, host *os.File) {
	ws, err := unix.IoctlGetWinsize(int(host.Fd()), unix.TIOCGWINSZ)
	if err == nil {
		_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// onSignal calls fn for every sig until the returned stop is called.
func onSignal(sig os.Signal, fn func()) (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, sig)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				fn()
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}
