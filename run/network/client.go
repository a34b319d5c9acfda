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
// fds beside them). Every request carries the protocol version and the
// caller's user namespace: a hub of another either answers "stale" and
// exits, and the caller starts a new one.
//
//	start (run, start; before the clone)               hub
//	  {"op":"lease","id":ID,"ports":[...],"net":{...},
//	   "names":[...],"hosts":PATH}
//	  + SCM_RIGHTS [pidfd of this process] ------------->
//	                                                  a namespace of the network's
//	                                                  pool (made ahead: veth, address,
//	                                                  route, lo up), ports listening,
//	                                                  the others' /etc/hosts updated
//	                        <------------- {"ip":...,"gateway":...,"ports":[...],"peers":[...]}
//	                                       + SCM_RIGHTS [the namespace]
//	                                       or {"error":"...","hint":"..."}
//	  the child enters the namespace first thing (setns), then mounts
//	  a fresh sysfs in it
//
// The hub holds the pidfd: when that process ends (it is the container's
// monitor: a foreground run, or the exec'd monitor of run -d, the same
// pid), the hub stops forwarding the ports, frees the address and takes
// the container off its network's /etc/hosts, whatever killed it.
//
//	{"op":"status"} ---->        <---- {"gateway":...,"host":...,"dns":...,"pid":N}
//	{"op":"stop-if-idle"} ---->  <---- {"pid":N} and the hub exits, or {"error":...}

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
const protocolVersion = 3

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

// Take asks the hub (which start starts when it is not running yet) for
// a network namespace for the container r.ID, made ahead on its network,
// and returns it open with where it is. The hub ties the lease to this
// process: when it ends (a run's monitor is this process, exec'd), the
// ports close and the address is free.
func Take(hostUID int, r Request, start func() error) (*Lease, int, error) {
	self, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return nil, -1, fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(self)
	req := r
	req.Op, req.UserNS, req.Version = "lease", UserNSInode(), protocolVersion
	l, fd, err := askFD(hostUID, req, []int{self}, start)
	if err != nil && err.Error() == errStale && start != nil {
		// The hub of a holder that is gone, or of an older crun-lite: it
		// exits; start another.
		l, fd, err = askFD(hostUID, req, []int{self}, start)
	}
	if err == nil && fd < 0 {
		return nil, -1, errors.New("the network hub sent no namespace")
	}
	return l, fd, err
}

// Status asks a running hub what it is; ErrNoHub when none runs.
func Status(hostUID int) (*Lease, error) {
	// No UserNS: doctor asks from outside the user's namespace.
	return ask(hostUID, Request{Op: "status", Version: protocolVersion}, nil, nil)
}

// StopIfIdle ends the hub when no container is attached to it (system
// reset): it reports whether a hub stopped.
func StopIfIdle(hostUID int) bool {
	l, err := ask(hostUID, Request{Op: "stop-if-idle", UserNS: UserNSInode(), Version: protocolVersion}, nil, nil)
	return err == nil && l.Pid > 0
}

// ErrNoHub is Status's answer when no hub runs.
var ErrNoHub = errors.New("no network hub runs")

func ask(hostUID int, req Request, fds []int, start func() error) (*Lease, error) {
	l, fd, err := askFD(hostUID, req, fds, start)
	if fd >= 0 {
		unix.Close(fd)
	}
	return l, err
}

// askFD is ask for an answer that may carry an fd (-1 when none).
func askFD(hostUID int, req Request, fds []int, start func() error) (*Lease, int, error) {
	fd, err := dial(SocketPath(hostUID))
	if err != nil && start != nil {
		if err = start(); err == nil {
			fd, err = dialWait(SocketPath(hostUID), 5*time.Second)
		}
	}
	if err != nil {
		if start == nil {
			return nil, -1, ErrNoHub
		}
		return nil, -1, hint.Wrap(fmt.Errorf("reach the network hub: %w", err),
			"see "+filepath.Join(Dir(hostUID), "hub.log")+", or run with --network host or --network none")
	}
	defer unix.Close(fd)
	msg, err := json.Marshal(req)
	if err != nil {
		return nil, -1, err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(fd, msg, oob, nil, 0); err != nil {
		return nil, -1, fmt.Errorf("send to the network hub: %w", err)
	}
	buf := make([]byte, 64<<10)
	rights := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, rights, unix.MSG_CMSG_CLOEXEC)
	if err != nil || n == 0 {
		return nil, -1, fmt.Errorf("read the network hub's answer: %v (see %s)", err, filepath.Join(Dir(hostUID), "hub.log"))
	}
	got := -1
	if msgs, err := unix.ParseSocketControlMessage(rights[:oobn]); err == nil {
		for _, m := range msgs {
			if fds, err := unix.ParseUnixRights(&m); err == nil && len(fds) > 0 {
				got = fds[0]
			}
		}
	}
	var l Lease
	if err := json.Unmarshal(buf[:n], &l); err != nil {
		return nil, got, fmt.Errorf("read the network hub's answer: %w", err)
	}
	if l.Error != "" {
		return nil, got, hint.Wrap(errors.New(l.Error), l.Hint)
	}
	return &l, got, nil
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
