package run

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/crun-lite/crun-lite/run/monitor"
	"github.com/crun-lite/crun-lite/run/state"
	"github.com/crun-lite/crun-lite/store"
	"github.com/crun-lite/crun-lite/userns"
)

// DefaultDetachKeys are Podman's: Ctrl-P then Ctrl-Q.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// ParseDetachKeys reads a --detach-keys value: comma-separated keys, each
// a single character or ctrl-X (X one of a-z @ [ \ ] ^ _). "" disables
// detaching.
func ParseDetachKeys(v string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	var keys []byte
	for _, k := range strings.Split(v, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				keys = append(keys, c-'A'+1)
			case strings.IndexByte("@[\\]^_", c) >= 0:
				keys = append(keys, c-'@')
			default:
				return nil, fmt.Errorf("--detach-keys %q: %q is no control key: use ctrl-a to ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^ or ctrl-_", v, k)
			}
		default:
			return nil, fmt.Errorf("--detach-keys %q: %q is neither one character nor ctrl-X", v, k)
		}
	}
	return keys, nil
}

// AttachOptions say how Attach connects.
type AttachOptions struct {
	NoStdin    bool   // --no-stdin: our stdin stays ours
	SigProxy   bool   // --sig-proxy: our SIGINT, SIGTERM... go to the container
	DetachKeys []byte // typed on our stdin, they detach (nil: never)
	// TTY: the container has a terminal, known by the caller where in
	// may not know it (a run whose --rm container is gone already).
	TTY bool
	// Hangup: the container is ours, a foreground run's: when our
	// terminal hangs up it gets SIGHUP, then SIGKILL after its stop
	// timeout, as Supervise does; an attacher's hangup only detaches.
	Hangup bool
}

// ErrDetached is Attach's return when the detach keys were typed: the
// container runs on.
var ErrDetached = errors.New("detached")

// Attach connects our stdio to a detached container's, through its
// monitor's attach socket (run/monitor), until the container exits (its
// exit code is returned) or the detach keys are typed (ErrDetached).
func (in *Info) Attach(o AttachOptions, io Stdio) (int, error) {
	if !in.Running() {
		return 0, fmt.Errorf("you can only attach to running containers: %w", ErrRunning)
	}
	if !in.Detached || in.run.Record.ControlSocket == "" {
		return 0, fmt.Errorf("container %s runs in the foreground of another crun-lite: only detached containers (run -d) can be attached to", in.Name)
	}
	fd, err := monitor.Dial(in.run.Dir)
	if err != nil {
		return 0, fmt.Errorf("attach to %s: %w", in.Name, err)
	}
	return in.AttachOver(fd, o, io)
}

// AttachOver is Attach over fd, a connection to the container's attach
// socket made already (start -a's, see userns.AttachFD), which it closes:
// the container may have exited since, its output and exit code wait in
// the connection.
func (in *Info) AttachOver(fd int, o AttachOptions, io Stdio) (int, error) {
	conn := os.NewFile(uintptr(fd), "attach")
	defer conn.Close()

	tty := in.tty() || o.TTY
	send := func(kind byte, b []byte) error {
		_, err := conn.Write(append([]byte{kind}, b...))
		return err
	}
	if tty && io.In != nil && isTerminal(io.In) {
		resizeFrom := func() {
			if ws, err := unix.IoctlGetWinsize(int(io.In.Fd()), unix.TIOCGWINSZ); err == nil {
				var b [4]byte
				binary.BigEndian.PutUint16(b[0:], ws.Row)
				binary.BigEndian.PutUint16(b[2:], ws.Col)
				_ = send(monitor.Resize, b[:])
			}
		}
		resizeFrom()
		stop := onSignal(unix.SIGWINCH, resizeFrom)
		defer stop()
		if !o.NoStdin {
			if old, err := term.MakeRaw(int(io.In.Fd())); err == nil {
				defer func() { _ = term.Restore(int(io.In.Fd()), old) }()
			}
		}
	}
	// A terminal takes the user's signals as keys; those sent to us
	// reach the container still when it is ours (Hangup).
	if o.SigProxy && (!tty || o.Hangup) {
		ch := make(chan os.Signal, 8)
		signal.Notify(ch, forwardedSignals...)
		defer signal.Stop(ch)
		go func() {
			for s := range ch {
				if sig := s.(unix.Signal); o.Hangup && (sig == unix.SIGHUP || sig == unix.SIGTERM) {
					in.endWith(sig)
				} else {
					_ = in.Signal(sig)
				}
			}
		}()
	}
	detached := make(chan struct{})
	if !o.NoStdin && io.In != nil {
		go func() {
			if copyWithDetach(io.In, o.DetachKeys, func(b []byte) error { return send(monitor.Input, b) }) {
				close(detached)
				// Wakes the read below, which Close would not: the
				// socket is a blocking fd.
				_ = unix.Shutdown(fd, unix.SHUT_RDWR)
				return
			}
			if !tty {
				_ = send(monitor.CloseStdin, nil)
			} else if o.Hangup && isTerminal(io.In) {
				in.endWith(unix.SIGHUP) // our terminal hung up
			}
		}()
	}
	buf := make([]byte, 65536+1)
	for {
		n, err := conn.Read(buf)
		if n == 0 || err != nil {
			select {
			case <-detached:
				return 0, ErrDetached
			default:
			}
			// The monitor hung up without an exit code: it died.
			return 0, fmt.Errorf("attach to %s: the monitor went away", in.Name)
		}
		switch buf[0] {
		case monitor.Stdout:
			_, _ = io.Out.Write(buf[1:n])
		case monitor.Stderr:
			_, _ = io.Err.Write(buf[1:n])
		case monitor.Exit:
			if n >= 5 {
				return int(int32(binary.BigEndian.Uint32(buf[1:5]))), nil
			}
			return 0, nil
		}
	}
}

// endWith ends a container whose user left (SIGHUP: the terminal hung
// up) or told us to stop (SIGTERM): sig, then SIGKILL after its stop
// timeout (a shell as pid 1 ignores both), as Supervise does.
func (in *Info) endWith(sig unix.Signal) {
	_ = in.Signal(sig)
	if t := in.StopTimeout; t > 0 {
		time.AfterFunc(t, func() { _ = in.Signal(unix.SIGKILL) })
	}
}

// copyWithDetach sends what src gives until it ends (false) or the detach
// keys were typed in a row (true). Keys typed as a prefix of the sequence
// are held back until the next key shows they were not.
func copyWithDetach(src io.Reader, keys []byte, send func([]byte) error) bool {
	buf := make([]byte, 32*1024)
	matched := 0
	for {
		n, err := src.Read(buf)
		var out []byte
		for _, b := range buf[:n] {
			if len(keys) > 0 && b == keys[matched] {
				matched++
				if matched == len(keys) {
					if len(out) > 0 {
						_ = send(out)
					}
					return true
				}
				continue
			}
			if matched > 0 {
				out = append(out, keys[:matched]...)
				matched = 0
			}
			out = append(out, b)
		}
		if len(out) > 0 && send(out) != nil {
			return false
		}
		if err != nil {
			return false
		}
	}
}

// WaitCleaned waits, once the container exited, until its run is undone
// (by its monitor's cleanup or by us, whichever takes the lock): its exit
// is in the store then, and a --rm container gone, when start -a returns.
func (in *Info) WaitCleaned(st *store.Store) {
	if !in.hasRun {
		return
	}
	for deadline := time.Now().Add(10 * time.Second); state.MonitorAlive(in.run.Dir) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	// Once only: when the monitor's cleanup could not record the exit (a
	// full disk), storage's copy in this process may already say it did,
	// and a second try would drop the run dir that keeps the code.
	state.Cleanup(st, in.run.ID)
}

// HandAttach gives start -a's waiting parent (userns.AttachFD) a
// connection to the running container's attach socket: start -a of a
// container that runs already attaches to it.
func (in *Info) HandAttach() error {
	if !in.Running() {
		return fmt.Errorf("you can only attach to running containers: %w", ErrRunning)
	}
	if !in.Detached || in.run.Record.ControlSocket == "" {
		return fmt.Errorf("container %s runs in the foreground of another crun-lite: only detached containers can be attached to", in.Name)
	}
	return coded(handAttach(in.run.Dir, in.run.ID))
}

func handAttach(runDir, id string) error {
	conn, err := monitor.Dial(runDir)
	if err != nil {
		return err
	}
	defer unix.Close(conn)
	return userns.SendAttach(conn, id)
}

// tty tells whether the container has a terminal (run -t).
func (in *Info) tty() bool { return in.run.Record.TTY }
