package hub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/run/network"
)

// A published TCP port is the hub's own: it listens in the host's
// namespace, takes a socket made in its namespace for each connection,
// dials the container with it and splices the two. rootlesskit's builtin
// driver (kept for UDP) asks its child over a unix socket for each
// connection, and the child enters the hub's namespace to dial (setns
// there and back, or a thread lost): a round trip and two setns more per
// connection. Measured as the test user (curl of a 1 KiB page from busybox
// httpd through -p, medians of 3 rounds of 100, 2 cores under load):
// rootlesskit 1.04-1.20 ms, the hub's own 0.70-0.79 ms, Podman (its
// rootlessport) 0.78-0.88 ms; curl to the container from the hub's
// namespace, no forwarder, 0.57-0.63 ms; to the same httpd on the host
// 0.42-0.50 ms. Throughput is the same (both splice).

// socketMaker hands out TCP sockets made in the hub's namespace, a few
// ahead, by a thread that stays there: a socket belongs to the namespace
// of the thread that made it, and entering the hub's namespace per
// connection would cost a setns (and a thread, which cannot go back from
// inside a user namespace); made ahead, a connection does not wait for
// that thread to wake either.
type socketMaker chan int

func (hub *Hub) startSocketMaker() error {
	sm := make(socketMaker, 4)
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread stays in the hub's namespace
		if err := unix.Setns(hub.nsfd, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- nil
		for {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				hub.log.Printf("make a socket in the hub's namespace: %v", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			sm <- fd
		}
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("enter the hub's namespace: %w", err)
	}
	hub.sockets = sm
	return nil
}

// dialInHub connects to ip:port from the hub's namespace.
func (hub *Hub) dialInHub(ip net.IP, port int) (*net.TCPConn, error) {
	fd := <-hub.sockets
	// A blocking connect, bounded: the container is one veth away, its
	// answer (SYN-ACK or reset) comes in microseconds.
	tv := unix.Timeval{Sec: 5}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	sa := &unix.SockaddrInet4{Port: port}
	copy(sa.Addr[:], ip.To4())
	var err error
	for {
		if err = unix.Connect(fd, sa); !errors.Is(err, unix.EINTR) {
			break
		}
	}
	f := os.NewFile(uintptr(fd), "dial")
	defer f.Close()
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", net.JoinHostPort(ip.String(), strconv.Itoa(port)), err)
	}
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// tcpForward is one published TCP port and its open connections.
type tcpForward struct {
	l     *net.TCPListener
	mu    sync.Mutex
	conns map[*net.TCPConn]struct{}
}

// publishTCP listens on the host for p (port 0: a free one) and forwards
// to ip; the function returned closes the port and its connections.
func (hub *Hub) publishTCP(p network.Port, ip net.IP) (network.Port, func(), error) {
	addr := &net.TCPAddr{Port: p.HostPort}
	if p.HostIP != "" {
		if addr.IP = net.ParseIP(p.HostIP); addr.IP == nil {
			return p, nil, fmt.Errorf("bad host address %q", p.HostIP)
		}
	}
	// No keep-alive probes (Go's default sets four options on every
	// accepted socket): both ends are local, and a container's end is
	// closed with its port.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp4", addr.String())
	if err != nil {
		return p, nil, err
	}
	l := ln.(*net.TCPListener)
	p.HostPort = l.Addr().(*net.TCPAddr).Port
	fw := &tcpForward{l: l, conns: map[*net.TCPConn]struct{}{}}
	go hub.acceptPublished(fw, ip, p.CtrPort)
	return p, fw.close, nil
}

func (hub *Hub) acceptPublished(fw *tcpForward, ip net.IP, port int) {
	for {
		c, err := fw.l.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			hub.log.Printf("published port %s: %v", fw.l.Addr(), err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go func() {
			if !fw.track(c, true) {
				return
			}
			defer fw.track(c, false)
			d, err := hub.dialInHub(ip, port)
			if err != nil {
				// As the container would: nobody listens there.
				_ = c.SetLinger(0)
				c.Close()
				return
			}
			if !fw.track(d, true) {
				return
			}
			defer fw.track(d, false)
			splice(c, d)
			c.Close()
		}()
	}
}

// track adds (or removes) an open connection; false, and c closed, once
// the port is closed.
func (fw *tcpForward) track(c *net.TCPConn, add bool) bool {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if !add {
		delete(fw.conns, c)
		return true
	}
	if fw.conns == nil {
		c.Close()
		return false
	}
	fw.conns[c] = struct{}{}
	return true
}

// close stops listening and ends the port's connections: the container
// is gone, nothing would answer them.
func (fw *tcpForward) close() {
	fw.l.Close()
	fw.mu.Lock()
	defer fw.mu.Unlock()
	for c := range fw.conns {
		c.Close()
	}
	fw.conns = nil
}
