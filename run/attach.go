package run

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/crun-lite/crun-lite/run/monitor"
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
	conn := os.NewFile(uintptr(fd), "attach")
	defer conn.Close()

	tty := in.tty()
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
	if o.SigProxy && !tty {
		ch := make(chan os.Signal, 8)
		signal.Notify(ch, forwardedSignals...)
		defer signal.Stop(ch)
		go func() {
			for s := range ch {
				_ = in.Signal(s.(unix.Signal))
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

// tty tells whether the container has a terminal (run -t).
func (in *Info) tty() bool { return in.run.Record.TTY }
