package run

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/internal/paths"
	"github.com/crun-lite/crun-lite/run/spec"
	"github.com/crun-lite/crun-lite/userns"
)

// What --share makes per run (the mounts and env are the spec's, see
// run/spec/share.go): the X11 cookie file and the D-Bus proxies.

// generatedSource makes the source of a bind the run generates, and
// returns its path.
func (c *Container) generatedSource(m *spec.Mount) (string, error) {
	if m.Generated == "xauth" {
		return c.writeXauth()
	}
	for i, p := range c.Spec.BusProxies {
		if m.Generated == "bus:"+p.Target {
			return c.startBusProxy(i, p)
		}
	}
	return "", fmt.Errorf("unknown generated mount source %q", m.Generated)
}

// shareOwner is who owns what --share makes, in the ids of the namespace
// the monitor runs in: the container's user.
func (c *Container) shareOwner() (int, int) {
	if c.keep == nil {
		return c.hostIDs(0, 0)
	}
	return c.hostIDs(c.keep.uid, c.keep.gid)
}

// writeXauth copies the cookies of the shared display into the run dir,
// rewritten to FamilyWild: an entry bound to the host's name (what xauth
// and display managers write) would not match the container's host name.
func (c *Container) writeXauth() (string, error) {
	x := c.Spec.Xauth
	b, err := os.ReadFile(x.Source)
	if err != nil {
		return "", fmt.Errorf("--share x11: read the X cookie: %w", err)
	}
	out, err := wildXauth(b, x.Display)
	if err != nil {
		return "", fmt.Errorf("--share x11: %s: %w", x.Source, err)
	}
	path := c.rd.Join("Xauthority")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return "", err
	}
	uid, gid := c.shareOwner()
	return path, os.Lchown(path, uid, gid)
}

// xauthWild is FamilyWild of Xauthority entries: any address.
const xauthWild = 0xffff

// wildXauth returns the entries of an Xauthority file for display
// number, with family FamilyWild. The file is a list of entries: a 16-bit
// big-endian family, then address, display number, auth name and auth
// data, each a 16-bit big-endian length and that many bytes.
func wildXauth(file []byte, display string) ([]byte, error) {
	r := bytes.NewReader(file)
	var out bytes.Buffer
	n := 0
	for r.Len() > 0 {
		var family uint16
		if err := binary.Read(r, binary.BigEndian, &family); err != nil {
			return nil, errors.New("truncated Xauthority entry")
		}
		var fields [4][]byte
		for i := range fields {
			var l uint16
			if err := binary.Read(r, binary.BigEndian, &l); err != nil {
				return nil, errors.New("truncated Xauthority entry")
			}
			fields[i] = make([]byte, l)
			if _, err := io.ReadFull(r, fields[i]); err != nil {
				return nil, errors.New("truncated Xauthority entry")
			}
		}
		if string(fields[1]) != display {
			continue
		}
		_ = binary.Write(&out, binary.BigEndian, uint16(xauthWild))
		for _, f := range fields {
			_ = binary.Write(&out, binary.BigEndian, uint16(len(f)))
			out.Write(f)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("no cookie for display :%s", display)
	}
	return out.Bytes(), nil
}

// busProxy is one running xdg-dbus-proxy.
type busProxy struct {
	cmd    *exec.Cmd
	sync   *os.File // its --fd pipe: it exits when this end closes
	socket string
}

// proxyReadyTimeout bounds the wait for xdg-dbus-proxy's ready byte.
const proxyReadyTimeout = 5 * time.Second

// startBusProxy starts xdg-dbus-proxy for p, with a socket in the user's
// runtime dir (a run dir's path can pass the 108 bytes of a socket
// address), and waits until it listens. It talks to the bus for the
// container's clients, whose authentication it passes on: the bus checks
// the uid a client claims against the proxy's, the user's, so the
// container must run as the user's own uid (keep-id's default).
//
// The proxy lives until the read end of its --fd pipe closes: when Close
// runs, or when the monitor dies, whatever kills it.
func (c *Container) startBusProxy(i int, p spec.BusProxy) (string, error) {
	prog, err := exec.LookPath("xdg-dbus-proxy")
	if err != nil {
		return "", hint.Wrap(fmt.Errorf("--share %s needs xdg-dbus-proxy, which filters what the container may reach on the bus", busShare(p)),
			"sudo apt-get install xdg-dbus-proxy")
	}
	if c.keep != nil && c.keep.uid != userns.HostUID() {
		return "", spec.BadOption("--share %s: the bus authenticates the container's process by its uid, which must be yours (%d), not keep-id's %d", busShare(p), userns.HostUID(), c.keep.uid)
	}
	dir := paths.RuntimeDir(userns.HostUID())
	if err := paths.MkdirPrivate(dir); err != nil {
		return "", err
	}
	socket := filepath.Join(dir, fmt.Sprintf("%s%d", proxySocketPrefix(c.Spec.ID), i))
	_ = os.Remove(socket)
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	args := []string{p.Address, socket, "--fd=3"}
	if p.Filter {
		args = append(args, "--filter")
	}
	for _, n := range p.Talk {
		args = append(args, "--talk="+n)
	}
	cmd := exec.Command(prog, args...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = os.Stderr
	if c.stdio != nil && c.stdio.warnings != nil {
		cmd.Stderr = c.stdio.warnings
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return "", fmt.Errorf("start xdg-dbus-proxy: %w", err)
	}
	bp := &busProxy{cmd: cmd, sync: r, socket: socket}
	c.proxies = append(c.proxies, bp)
	_ = r.SetReadDeadline(time.Now().Add(proxyReadyTimeout))
	if _, err := r.Read(make([]byte, 1)); err != nil {
		return "", fmt.Errorf("xdg-dbus-proxy for %s did not start: %v", p.Address, err)
	}
	uid, gid := c.shareOwner()
	return socket, os.Lchown(socket, uid, gid)
}

// proxySocketPrefix begins the names of a container's proxy sockets.
func proxySocketPrefix(id string) string { return "bus-" + id[:12] + "-" }

// removeProxySockets removes what the proxies of a detached run left:
// their processes are gone with its monitor, their sockets stay.
func removeProxySockets(id string) {
	if len(id) < 12 {
		return
	}
	matches, _ := filepath.Glob(filepath.Join(paths.RuntimeDir(userns.HostUID()), proxySocketPrefix(id)+"*"))
	for _, m := range matches {
		_ = os.Remove(m)
	}
}

func busShare(p spec.BusProxy) string {
	if p.System {
		return "system-bus"
	}
	return "session-bus"
}

// stopProxies ends the bus proxies: closing their pipe asks them to exit.
func (c *Container) stopProxies() {
	for _, p := range c.proxies {
		p.sync.Close()
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
		_ = os.Remove(p.socket)
	}
	c.proxies = nil
}

// keepProxyOnExec lets the proxies' pipes survive the exec of a detached
// run's monitor, which then holds them until it exits.
func (c *Container) keepProxyOnExec() {
	for _, p := range c.proxies {
		_, _ = unix.FcntlInt(p.sync.Fd(), unix.F_SETFD, 0)
	}
}
