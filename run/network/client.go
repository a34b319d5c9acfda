package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/internal/hint"
	"github.com/crun-lite/crun-lite/internal/paths"
	"github.com/crun-lite/crun-lite/userns"
)

// The protocol of the hub's socket (SOCK_SEQPACKET: one message each way,
// fds beside the first):
//
//	start (run, exec'd container's parent)          hub
//	  {"op":"attach","id":ID,"ports":[...]}
//	  + SCM_RIGHTS [netns of the container, pidfd] ---->
//	                                                  veth into the netns, address,
//	                                                  route, ports listening
//	                                   <---- {"ip":...,"gateway":...,"ports":[...]}
//	                                         or {"error":"..."}
//	  close
//
// The hub holds the pidfd: when the container's first process exits, it
// stops forwarding its ports and frees its address, whatever became of the
// command that started it (a kill -9 of crun-lite included).
//
//	{"op":"status"} ----> <---- {"subnet":...,"gateway":...,"host":...,"pid":N}

// Request is a message to the hub.
type Request struct {
	Op    string `json:"op"` // attach, status
	ID    string `json:"id,omitempty"`
	Ports []Port `json:"ports,omitempty"`
	// UserNS is the inode of the caller's user namespace: a hub left
	// from an earlier holder serves another namespace, and says "stale".
	UserNS uint64 `json:"userns,omitempty"`
	// Version is the protocol's: a hub of another crun-lite (an upgrade
	// while it ran) says "stale" and exits.
	Version int `json:"version"`
	// Net is the user network to join; nil for the default network.
	Net *Config `json:"net,omitempty"`
	// Names are the container's names (hostname, --name) for the other
	// containers of a user network, whose /etc/hosts (Hosts, the path of
	// this one's) the hub keeps listing each other.
	Names []string `json:"names,omitempty"`
	Hosts string   `json:"hosts,omitempty"`
}

// PeersMarker starts the part of a user network's container's /etc/hosts
// that lists the other containers; the hub rewrites what follows it.
const PeersMarker = "# other containers of network "

// protocolVersion changes whenever requests or answers change meaning.
const protocolVersion = 2

// ProtocolVersion is what this crun-lite speaks (the hub checks it).
func ProtocolVersion() int { return protocolVersion }

// errStale is the answer of a hub of another user namespace than the
// caller's; it exits after it.
const errStale = "stale hub"

// UserNSInode is the inode of this process's user namespace.
func UserNSInode() uint64 {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/user", &st) != nil {
		return 0
	}
	return st.Ino
}

// Lease is the hub's answer: the container's place on the network.
type Lease struct {
	IP      string `json:"ip,omitempty"`      // the container's address
	Prefix  int    `json:"prefix,omitempty"`  // of the bridge's subnet
	Gateway string `json:"gateway,omitempty"` // the bridge: the container's default route
	// Host reaches the host's loopback (host.containers.internal); "" when
	// the hub has no way out (no pasta or slirp4netns, or no route).
	Host  string `json:"host,omitempty"`
	DNS   string `json:"dns,omitempty"`   // a resolver that forwards to the host's
	Ports []Port `json:"ports,omitempty"` // as published, with the host ports chosen
	// Peers are the other containers of a user network: "IP\tNAMES".
	Peers []string `json:"peers,omitempty"`
	Pid   int      `json:"pid,omitempty"` // status: the hub's
	Error string   `json:"error,omitempty"`
	Hint  string   `json:"hint,omitempty"`
}

// Dir is the hub's directory: its socket, lock and log.
//
// The single-id namespace (userns.Single) has a hub of its own, "net-single":
// a hub can only plug containers of the user namespace it runs in.
func Dir(hostUID int) string {
	name := "net"
	if userns.Single() {
		name = "net-single"
	}
	return filepath.Join(paths.RuntimeDir(hostUID), name)
}

// SocketPath is where the hub listens.
func SocketPath(hostUID int) string { return filepath.Join(Dir(hostUID), "hub.sock") }

// Attach gives the container whose first process is pid its private
// network from the hub, which start starts when it is not running yet.
func Attach(hostUID, pid int, id string, ports []Port, start func() error) (*Lease, error) {
	return AttachTo(hostUID, pid, Request{ID: id, Ports: ports}, start)
}

// AttachTo is Attach with the whole request: a user network, names.
func AttachTo(hostUID, pid int, r Request, start func() error) (*Lease, error) {
	nsfd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the container's network namespace: %w", err)
	}
	defer unix.Close(nsfd)
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	req := r
	req.Op, req.UserNS, req.Version = "attach", UserNSInode(), protocolVersion
	l, err := ask(hostUID, req, []int{nsfd, pidfd}, start)
	if err != nil && err.Error() == errStale && start != nil {
		// The hub of a holder that is gone: it exits; start another.
		l, err = ask(hostUID, req, []int{nsfd, pidfd}, start)
	}
	return l, err
}

// Status asks a running hub what it is; ErrNoHub when none runs.
func Status(hostUID int) (*Lease, error) { return ask(hostUID, Request{Op: "status"}, nil, nil) }

// StopIfIdle ends the hub when no container is attached to it (system
// reset): it reports whether a hub stopped.
func StopIfIdle(hostUID int) bool {
	l, err := ask(hostUID, Request{Op: "stop-if-idle"}, nil, nil)
	return err == nil && l.Pid > 0
}

// ErrNoHub is Status's answer when no hub runs.
var ErrNoHub = errors.New("no network hub runs")

func ask(hostUID int, req Request, fds []int, start func() error) (*Lease, error) {
	fd, err := dial(SocketPath(hostUID))
	if err != nil && start != nil {
		if err = start(); err == nil {
			fd, err = dialWait(SocketPath(hostUID), 5*time.Second)
		}
	}
	if err != nil {
		if start == nil {
			return nil, ErrNoHub
		}
		return nil, hint.Wrap(fmt.Errorf("reach the network hub: %w", err),
			"see "+filepath.Join(Dir(hostUID), "hub.log")+", or run with --network host or --network none")
	}
	defer unix.Close(fd)
	msg, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(fd, msg, oob, nil, 0); err != nil {
		return nil, fmt.Errorf("send to the network hub: %w", err)
	}
	buf := make([]byte, 64<<10)
	n, _, _, _, err := unix.Recvmsg(fd, buf, nil, 0)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("read the network hub's answer: %v (see %s)", err, filepath.Join(Dir(hostUID), "hub.log"))
	}
	var l Lease
	if err := json.Unmarshal(buf[:n], &l); err != nil {
		return nil, fmt.Errorf("read the network hub's answer: %w", err)
	}
	if l.Error != "" {
		return nil, hint.Wrap(errors.New(l.Error), l.Hint)
	}
	return &l, nil
}

func dial(path string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// dialWait dials until the hub a start just began listens.
func dialWait(path string, limit time.Duration) (int, error) {
	deadline := time.Now().Add(limit)
	for {
		fd, err := dial(path)
		if err == nil || time.Now().After(deadline) {
			return fd, err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// HubLog is the file the hub writes its errors to.
func HubLog(hostUID int) string { return filepath.Join(Dir(hostUID), "hub.log") }

// MkDir makes the hub's directory, private to the user.
func MkDir(hostUID int) error {
	if err := os.MkdirAll(paths.RuntimeDir(hostUID), 0o700); err != nil {
		return err
	}
	return paths.MkdirPrivate(Dir(hostUID))
}
