// Package spawn owns the container's first process from clone to execve:
// the batches of operations Go prepares (ops.go, which draws the
// handshake), the C interpreter that runs them in the child without the Go
// runtime (spawn.c), and the container's tiny init (init.c). Start is the
// one way in; a mutex makes two children that share our memory in flight
// at once impossible. What the operations are for (which mounts, which
// user) is decided by package run, never here.
package spawn

/*
#cgo LDFLAGS: -Wl,-z,now
#include <stdlib.h>
#include "spawn.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/crun-lite/crun-lite/userns"
)

// Child is the container's first process as the monitor sees it.
type Child struct {
	Pid    int
	Master *os.File    // the pty master the child sent (OpenPty)
	Times  []PhaseTime // --timing: the phase ends reported so far

	sock   *os.File
	desc   []string       // descriptions of every op sent so far, by index
	phases map[int]string // --timing: op index -> phase it ends

	region    unsafe.Pointer // the memory a child sharing ours runs on
	regionLen C.size_t
	inFlight  bool // holds spawning until it has exec'd or is gone
}

// spawning is held from the clone of a child that shares our memory until
// that child has exec'd or is gone: spawn.c keeps the child's state (its
// socket, op index and mount-tree slots) in static variables, which a
// sharing child writes in our memory, so two such children in flight would
// overwrite each other's. Start takes it; Finish, Kill and Wait give it
// back.
var spawning sync.Mutex

func (c *Child) done() {
	if c.inFlight {
		c.inFlight = false
		spawning.Unlock()
	}
}

// opStart is the op index of the child's report that it started.
const opStart = int(C.CL_OP_START)

// PhaseTime is when the child finished a --timing phase.
type PhaseTime struct {
	Phase string
	NS    uint64 // CLOCK_MONOTONIC
}

// StartError is a failure of the child before its command ran, with the exit
// code Podman would give: 127 for a command not found, 126 for one that
// cannot be executed, 125 for everything else.
type StartError struct {
	Op   string
	Err  error
	Code int
}

func (e *StartError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// ExitCode is what crun-lite exits with for this failure.
func (e *StartError) ExitCode() int { return e.Code }

// Start clones the container's first process and starts it on batch. The
// calling goroutine must stay locked to its OS thread until the child is
// reaped: the child's parent-death signal follows the thread, not the process.
// With shared, the child runs in our memory until it execs (see
// crunlite_spawn); a child that stays (the --init) must not share it.
func Start(batch *List, cloneFlags uintptr, shared bool) (*Child, error) {
	opts := 0
	if shared {
		opts = C.CL_SPAWN_SHARED
	}
	if batch.Timing {
		opts |= C.CL_SPAWN_TIMED
	}
	return spawnWith(batch, cloneFlags, opts, -1)
}

// StartJoined starts a process in a running container (exec) on batch,
// which enters the container's other namespaces and root itself (Setns,
// Chroot). pidNS (-1: ours) is the container's pid namespace, which the
// child is cloned into: a pid namespace can only be entered by a new
// process. The child shares our memory until it execs; a detached one may
// outlive us (no parent-death signal), and nobody waits for it: call
// Release once it has exec'd.
func StartJoined(batch *List, pidNS int, detached bool) (*Child, error) {
	opts := C.CL_SPAWN_SHARED
	if batch.Timing {
		opts |= C.CL_SPAWN_TIMED
	}
	if detached {
		opts |= C.CL_SPAWN_DETACHED
	}
	return spawnWith(batch, 0, opts, pidNS)
}

// Release gives up a detached child that has exec'd: it runs on in memory
// of its own, and the region it started on is ours to free.
func (c *Child) Release() { c.freeRegion() }

func spawnWith(batch *List, cloneFlags uintptr, opts int, pidNS int) (*Child, error) {
	// Every process that enters a container starts here: none may reach a
	// binary it could change (userns/exeseal.c).
	if err := userns.ExeSafe(); err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	shared := opts&C.CL_SPAWN_SHARED != 0
	spawning.Lock()
	ops := C.CBytes(batch.buf)
	defer C.free(ops)
	var region unsafe.Pointer
	var regionLen C.size_t
	pid, errno := C.crunlite_spawn(ops, C.size_t(len(batch.buf)), C.int(fds[1]), C.ulong(cloneFlags), C.int(opts), C.int(pidNS), &region, &regionLen)
	unix.Close(fds[1])
	if pid < 0 || !shared {
		spawning.Unlock() // a child of its own memory has its own copy
	}
	if pid < 0 {
		unix.Close(fds[0])
		return nil, fmt.Errorf("%w: %w", ErrClone, errno)
	}
	c := &Child{Pid: int(pid), sock: os.NewFile(uintptr(fds[0]), "spawn-sync"), phases: map[int]string{opStart: "clone"},
		region: region, regionLen: regionLen, inFlight: shared}
	c.addBatch(batch)
	return c, nil
}

// ErrClone marks the failure to clone the container's first process.
var ErrClone = errors.New("clone")

// errExecuted is returned by next when the child's command is running.
var errExecuted = errors.New("executed")

// message is one report from the child (struct cl_msg) and the fd it
// carries, or -1.
type message struct {
	typ, op uint32
	errno   syscall.Errno
	code    int
	fd      int
}

// Next waits for the child's next message: nil for READY, errExecuted when
// the socket closed on exec, or the child's failure as a *StartError. A pty
// master passed on the way is kept in c.Master.
func (c *Child) Next() error {
	for {
		m, err := c.recv()
		if err != nil {
			return err
		}
		switch m.typ {
		case msgReady:
			return nil
		case msgTime:
			if p, ok := c.phases[int(m.op)]; ok {
				ns := uint64(uint32(m.errno)) | uint64(uint32(m.code))<<32
				c.Times = append(c.Times, PhaseTime{p, ns})
			}
		case msgPty:
			if m.fd < 0 {
				return errors.New("the container's first process sent no terminal")
			}
			c.Master = os.NewFile(uintptr(m.fd), "pty-master")
		case msgError:
			desc := "setting up the container"
			if int(m.op) < len(c.desc) {
				desc = c.desc[m.op]
			}
			return &StartError{Op: desc, Err: execError(desc, m.errno), Code: m.code}
		default:
			return fmt.Errorf("unexpected message %d from the container's first process", m.typ)
		}
	}
}

// recv reads one message with recvmsg, to receive the fd a PTY message
// carries (SCM_RIGHTS).
func (c *Child) recv() (message, error) {
	var b [msgSize]byte
	oob := make([]byte, unix.CmsgSpace(4))
	raw, err := c.sock.SyscallConn()
	if err != nil {
		return message{}, err
	}
	var n, oobn int
	var rerr error
	err = raw.Read(func(s uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(s), b[:], oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	switch {
	case err != nil:
		return message{}, fmt.Errorf("read from the container's first process: %w", err)
	case n == 0:
		return message{}, errExecuted
	case n != msgSize:
		return message{}, fmt.Errorf("short message (%d bytes) from the container's first process", n)
	}
	m := message{
		typ:   binary.NativeEndian.Uint32(b[0:]),
		op:    binary.NativeEndian.Uint32(b[4:]),
		errno: syscall.Errno(int32(binary.NativeEndian.Uint32(b[8:]))),
		code:  int(binary.NativeEndian.Uint32(b[12:])),
		fd:    -1,
	}
	if cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(cmsgs) > 0 {
		if fds, err := unix.ParseUnixRights(&cmsgs[0]); err == nil && len(fds) > 0 {
			m.fd = fds[0]
		}
	}
	return m, nil
}

// addBatch records the descriptions and phases of a batch sent.
func (c *Child) addBatch(batch *List) {
	for i, p := range batch.phases {
		c.phases[len(c.desc)+i] = p
	}
	c.desc = append(c.desc, batch.desc...)
}

// Send hands the child its next batch.
func (c *Child) Send(batch *List) error {
	c.addBatch(batch)
	msg := binary.NativeEndian.AppendUint32(nil, uint32(len(batch.buf)))
	if _, err := c.sock.Write(append(msg, batch.buf...)); err != nil {
		return fmt.Errorf("send to the container's first process: %w", err)
	}
	return nil
}

// Finish waits until the command is executing or the child has failed.
func (c *Child) Finish() error {
	err := c.Next()
	c.sock.Close()
	c.done()
	if err == errExecuted {
		return nil
	}
	if err == nil {
		return errors.New("the container's first process asked for another batch")
	}
	return err
}

// Kill stops a child that will not be started.
func (c *Child) Kill() {
	_ = unix.Kill(c.Pid, unix.SIGKILL)
	_, _ = c.Wait()
	c.sock.Close()
}

// Wait reaps the child and returns its exit code, 128+n for death by signal n.
func (c *Child) Wait() (int, error) {
	defer c.done()
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(c.Pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait for container: %w", err)
		}
		break
	}
	c.freeRegion()
	return ExitCode(ws), nil
}

// execError words a failed exec as a shell would: a name without a slash
// was looked up in the container's $PATH.
func execError(desc string, errno syscall.Errno) error {
	prog, ok := strings.CutPrefix(desc, "exec ")
	if ok && errno == syscall.ENOENT && !strings.Contains(prog, "/") {
		return fmt.Errorf("executable file not found in $PATH: %w", errno)
	}
	return errno
}

// freeRegion releases the memory a sharing child ran on; the child is gone.
func (c *Child) freeRegion() {
	C.crunlite_spawn_free(c.region, c.regionLen)
	c.region = nil
}

// ExitCode is the exit code a shell reports for ws: 128+n for death by
// signal n.
func ExitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// StartDetached runs argv (a host program) in a new session as a process
// that outlives us, and does not wait for it. It shares our memory until
// its exec, so it costs no page-table copy on our way out.
func StartDetached(argv []string) error {
	var l List
	l.Setsid()
	l.Open("/dev/null", 0)
	l.Open("/dev/null", 1)
	l.Open("/dev/null", 2)
	l.Exec(argv, []string{"PATH=/usr/bin:/bin"})
	c, err := spawnWith(&l, 0, C.CL_SPAWN_SHARED|C.CL_SPAWN_DETACHED, -1)
	if err != nil {
		return err
	}
	err = c.Finish()
	if err == nil {
		// It runs on in a memory of its own now; the region it started
		// on is ours to free. It is reaped by init once we are gone.
		c.freeRegion()
	}
	return err
}
