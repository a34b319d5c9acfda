package run

/*
#include <stdlib.h>
#include "spawn.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// child is the container's first process as the monitor sees it.
type child struct {
	pid  int
	sock *os.File
	desc []string // descriptions of every op sent so far, by index
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

// spawn clones the container's first process and starts it on batch. The
// calling goroutine must stay locked to its OS thread until the child is
// reaped: the child's parent-death signal follows the thread, not the process.
func spawn(batch *opList, cloneFlags uintptr) (*child, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	ops := C.CBytes(batch.buf)
	defer C.free(ops)
	pid, errno := C.crunlite_spawn(ops, C.size_t(len(batch.buf)), C.int(fds[1]), C.ulong(cloneFlags))
	unix.Close(fds[1])
	if pid < 0 {
		unix.Close(fds[0])
		return nil, fmt.Errorf("clone: %w", errno)
	}
	return &child{pid: int(pid), sock: os.NewFile(uintptr(fds[0]), "spawn-sync"), desc: batch.desc}, nil
}

// errExecuted is returned by next when the child's command is running.
var errExecuted = errors.New("executed")

// next waits for the child's next message: nil for READY, errExecuted when
// the socket closed on exec, or the child's failure as a *StartError.
func (c *child) next() error {
	var b [msgSize]byte
	if _, err := io.ReadFull(c.sock, b[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return errExecuted
		}
		return fmt.Errorf("read from the container's first process: %w", err)
	}
	typ := binary.NativeEndian.Uint32(b[0:])
	op := int(binary.NativeEndian.Uint32(b[4:]))
	switch typ {
	case msgReady:
		return nil
	case msgError:
		errno := syscall.Errno(int32(binary.NativeEndian.Uint32(b[8:])))
		desc := "setting up the container"
		if op < len(c.desc) {
			desc = c.desc[op]
		}
		return &StartError{Op: desc, Err: errno, Code: int(binary.NativeEndian.Uint32(b[12:]))}
	}
	return fmt.Errorf("unexpected message %d from the container's first process", typ)
}

// send hands the child its next batch.
func (c *child) send(batch *opList) error {
	c.desc = append(c.desc, batch.desc...)
	msg := binary.NativeEndian.AppendUint32(nil, uint32(len(batch.buf)))
	if _, err := c.sock.Write(append(msg, batch.buf...)); err != nil {
		return fmt.Errorf("send to the container's first process: %w", err)
	}
	return nil
}

// finish waits until the command is executing or the child has failed.
func (c *child) finish() error {
	err := c.next()
	c.sock.Close()
	if err == errExecuted {
		return nil
	}
	if err == nil {
		return errors.New("the container's first process asked for another batch")
	}
	return err
}

// kill stops a child that will not be started.
func (c *child) kill() {
	_ = unix.Kill(c.pid, unix.SIGKILL)
	_, _ = c.wait()
	c.sock.Close()
}

// wait reaps the child and returns its exit code, 128+n for death by signal n.
func (c *child) wait() (int, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(c.pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait for container: %w", err)
		}
		break
	}
	return exitCode(ws), nil
}

func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
