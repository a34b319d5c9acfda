package hub

import (
	"bufio"
	"errors"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/run/network"
)

// testHub is a hub whose "namespace" is the test's own: its sockets are
// made here, so a published port forwards to a server on 127.0.0.1.
func testHub(t *testing.T) *Hub {
	t.Helper()
	sm := make(socketMaker, 1)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return
			}
			select {
			case sm <- fd:
			case <-done:
				unix.Close(fd)
				return
			}
		}
	}()
	return &Hub{log: log.New(io.Discard, "", 0), sockets: sm}
}

// echoServer answers each line with "echo: " and the line, and says
// "bye" when the client half-closes.
func echoServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						_, _ = io.WriteString(c, "bye\n")
						return
					}
					_, _ = io.WriteString(c, "echo: "+line)
				}
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

func TestPublishTCPForwards(t *testing.T) {
	hub := testHub(t)
	ctr := echoServer(t)
	p, stop, err := hub.publishTCP(network.Port{HostIP: "127.0.0.1", CtrPort: ctr, Proto: "tcp"}, net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if p.HostPort == 0 {
		t.Fatal("no host port picked for port 0")
	}
	c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.HostPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "hello\n")
	_ = c.(*net.TCPConn).CloseWrite() // the half-close reaches the server
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "echo: hello\nbye\n" {
		t.Errorf("got %q, want the echo, then bye after the half-close", got)
	}
}

func TestPublishTCPStopEndsConnections(t *testing.T) {
	hub := testHub(t)
	ctr := echoServer(t)
	p, stop, err := hub.publishTCP(network.Port{HostIP: "127.0.0.1", CtrPort: ctr, Proto: "tcp"}, net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.HostPort))
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "a\n")
	r := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := r.ReadString('\n'); err != nil || line != "echo: a\n" {
		t.Fatalf("before stop: %q, %v", line, err)
	}
	stop()
	// The open connection ends (the server would have said "bye" on a
	// half-close; a closed port ends both sides) and nothing listens.
	if _, err := r.ReadString('\n'); err == nil {
		t.Error("the connection outlived its port")
	}
	if c2, err := net.Dial("tcp4", addr); err == nil {
		c2.Close()
		t.Error("the port still listens after stop")
	}
}

func TestPublishTCPNobodyListens(t *testing.T) {
	hub := testHub(t)
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	p, stop, err := hub.publishTCP(network.Port{HostIP: "127.0.0.1", CtrPort: closed, Proto: "tcp"}, net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// The reset comes at once: the dial itself may see it.
	c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.HostPort)))
	if err == nil {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read: %v, want a reset", err)
	}
}

func TestPublishTCPInUse(t *testing.T) {
	hub := testHub(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	_, _, err = hub.publish(network.Port{HostIP: "127.0.0.1", HostPort: taken, CtrPort: 80, Proto: "tcp"}, net.IPv4(127, 0, 0, 1))
	if err == nil || !strings.Contains(err.Error(), "is already in use on 127.0.0.1") {
		t.Errorf("got %v, want the port named in use", err)
	}
}

func TestMapsHostLoopback(t *testing.T) {
	for _, c := range []struct {
		opts []string
		want bool
	}{
		{nil, true},
		{[]string{"--mtu", "1500"}, true},
		{[]string{"--no-map-gw"}, false},
		{[]string{"allow_host_loopback=false"}, false},
		{[]string{"allow_host_loopback=true"}, true},
	} {
		if got := mapsHostLoopback(helperConf{Options: c.opts}); got != c.want {
			t.Errorf("%q: %v, want %v", c.opts, got, c.want)
		}
	}
}
