package hub

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Connections to the host's loopback (host.containers.internal, the
// helper's gateway) do not go through the helper: a NAT rule in the hub's
// namespace redirects TCP for the gateway to a listener of the hub there,
// and the hub, whose own threads are in the host's namespace, dials
// 127.0.0.1 on the same port and splices the two sockets. Measured as
// the test user (iperf3 -t 3, container -> a server on 127.0.0.1, 2 cores,
// 3 runs): through pasta 0.6-4.2 Gbit/s, median 2.0 (pasta of Debian 12,
// 2023-03, stalls, down to 0.03 once; from the hub's namespace itself
// 1.2-1.7), through the hub 7.3-11.9, median 11.3; Podman's slirp4netns
// 4.3-4.6; host loopback alone 14.6. UDP to the gateway still goes
// through the helper.
//
// What differs from the helper's mapping: the container's connect
// succeeds before the hub dials the host, so a port nobody listens on is
// a reset of an open connection, not a refused one.

// hostForward starts the listener and the rule that sends TCP for the
// gateway hub.host to it.
func (hub *Hub) hostForward() error {
	if hub.host == "" || hub.redirect == nil {
		return errors.New("no gateway or no NAT")
	}
	var l *net.TCPListener
	err := hub.inNetns(func() error {
		// Bound to all of the hub's addresses: REDIRECT sends the
		// connection to the address of the bridge it came in on, one per
		// network.
		ln, err := net.ListenTCP("tcp4", &net.TCPAddr{})
		l = ln
		return err
	})
	if err != nil {
		return fmt.Errorf("listen in the hub's namespace: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := hub.redirect(hub.host, port); err != nil {
		l.Close()
		return err
	}
	go hub.acceptHost(l, net.ParseIP(hub.host).To4(), port)
	return nil
}

func (hub *Hub) acceptHost(l *net.TCPListener, gw net.IP, self int) {
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			hub.log.Printf("host forward: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go hub.forwardHost(c, gw, self)
	}
}

// forwardHost carries one connection to the host's loopback.
func (hub *Hub) forwardHost(c *net.TCPConn, gw net.IP, self int) {
	defer c.Close()
	dst, err := originalDst(c)
	if err != nil || !dst.IP.Equal(gw) || dst.Port == self {
		// Not redirected (a container dialled the listener itself).
		_ = c.SetLinger(0)
		return
	}
	h, err := net.DialTimeout("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(dst.Port)), 5*time.Second)
	if err != nil {
		// Nobody listens there: reset, the nearest to a refusal.
		_ = c.SetLinger(0)
		return
	}
	splice(c, h.(*net.TCPConn))
}

// splice copies both ways until both sides are done; io.Copy between
// two TCP sockets moves the bytes with splice(2), not through Go.
func splice(a, b *net.TCPConn) {
	defer b.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(b, a)
		_ = b.CloseWrite()
		_ = a.CloseRead()
		close(done)
	}()
	_, _ = io.Copy(a, b)
	_ = a.CloseWrite()
	_ = b.CloseRead()
	<-done
}

// originalDst is where the connection was addressed before REDIRECT.
func originalDst(c *net.TCPConn) (*net.TCPAddr, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var addr *net.TCPAddr
	var serr error
	err = rc.Control(func(fd uintptr) {
		// SO_ORIGINAL_DST answers a struct sockaddr_in; the IPv6 mreq
		// getter is the one of x/sys that reads 16 bytes.
		m, err := unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST)
		if err != nil {
			serr = err
			return
		}
		b := m.Multiaddr
		addr = &net.TCPAddr{IP: net.IPv4(b[4], b[5], b[6], b[7]).To4(), Port: int(b[2])<<8 | int(b[3])}
	})
	if err == nil {
		err = serr
	}
	return addr, err
}

// mapsHostLoopback says whether the helper's options keep its gateway
// mapped to the host's loopback, which the hub then takes over.
func mapsHostLoopback(hc helperConf) bool {
	for _, o := range hc.Options {
		if o == "--no-map-gw" || o == "allow_host_loopback=false" {
			return false
		}
	}
	return true
}
