package spawn

/*
#include "spawn.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// The handshake. The monitor and the container's first process talk over a
// socketpair; the child's end is close-on-exec, so the EOF the monitor reads
// after the last batch means the command's execve succeeded. The child only
// ever sends struct cl_msg (type, op index, errno, code), the messages below:
//
//	monitor (Go, in the user namespace)             child (C, spawn.c, in new namespaces)
//	  build batch 1: rootfs ops ... SYNC
//	  clone(NEWNS|NEWPID|NEWUTS|NEWIPC[|NEWNET]),
//	    CLONE_VM (not with --init), batch 1 ------>
//	  <-------------------------------------------- TIME{op: CL_OP_START, ns}     --timing only
//	                                                run batch 1: mounts, pivot_root,
//	                                                  hostname, [-t: open the pty]
//	  <-------------------------------------------- TIME{op, ns} after each op     --timing only:
//	                                                  flagged CL_F_TIMED (phaseEnd)  ends of phases
//	  <-------------------------------------------- PTY{op} + the master fd        -t only
//	                                                  (SCM_RIGHTS)
//	  <-------------------------------------------- READY{op: the SYNC}
//	  release the store's read locks
//	  read /proc/PID/root/etc/{passwd,group}
//	  u32 length, batch 2: cwd, stdio, caps,
//	    seccomp, groups, gid, uid ... EXEC ------->
//	                                                run batch 2 [--init: fork; the
//	                                                  parent stays pid 1, see init.c]
//	                                                execve(command)
//	  <-------------------------------------------- EOF
//	  wait4(PID), forward signals
//
//	any failing op, in either batch:
//	  <-------------------------------------------- ERROR{op, errno, code}; _exit(code)
//
// code is what crun-lite exits with: 127 for a command not found, 126 for
// one that cannot be executed, 125 for anything else. A child whose monitor
// dies gets SIGKILL (PR_SET_PDEATHSIG); one that finds the socket closed
// while it waits for batch 2 exits 125.
const (
	msgReady     = C.CL_MSG_READY // batch done (SYNC): send the next one
	msgError     = C.CL_MSG_ERROR // op failed: errno, and the exit code for it
	msgPty       = C.CL_MSG_PTY   // the pty master of -t rides along (SCM_RIGHTS)
	msgTime      = C.CL_MSG_TIME  // --timing: CLOCK_MONOTONIC ns after op (errno: low half, code: high)
	msgSize      = int(unsafe.Sizeof(C.struct_cl_msg{}))
	opHeaderSize = int(unsafe.Sizeof(C.struct_cl_op_header{}))
)

// The ops: a batch is a sequence of cl_op_header (spawn.h), each followed by
// nstr strings, each a u32 length (counting the NUL) and the bytes with
// their NUL. A batch sent after the first is preceded by its u32 length.
// The monitor keeps a description of every op it sent so that an ERROR,
// which only carries the op's index, prints as "mount proc on /proc:
// permission denied".

// op codes and flags, from spawn.h.
const (
	opMount      = C.CL_OP_MOUNT
	opSymlink    = C.CL_OP_SYMLINK
	opReadonly   = C.CL_OP_READONLY
	opOpenTree   = C.CL_OP_OPEN_TREE
	opMoveMount  = C.CL_OP_MOVE_MOUNT
	opPivot      = C.CL_OP_PIVOT
	opChdir      = C.CL_OP_CHDIR
	opHostname   = C.CL_OP_SETHOSTNAME
	opLoopback   = C.CL_OP_LOOPBACK
	opSync       = C.CL_OP_SYNC
	opSetgroups  = C.CL_OP_SETGROUPS
	opSetgid     = C.CL_OP_SETGID
	opSetuid     = C.CL_OP_SETUID
	opKeepCaps   = C.CL_OP_KEEPCAPS
	opCaps       = C.CL_OP_CAPS
	opBounding   = C.CL_OP_BOUNDING
	opNoNewPrivs = C.CL_OP_NO_NEW_PRIVS
	opDup2       = C.CL_OP_DUP2
	opSetsid     = C.CL_OP_SETSID
	opSetctty    = C.CL_OP_SETCTTY
	opOpen       = C.CL_OP_OPEN
	opOpenPty    = C.CL_OP_OPENPTY
	opChownStdin = C.CL_OP_CHOWN_STDIN
	opInit       = C.CL_OP_INIT
	opSeccomp    = C.CL_OP_SECCOMP
	opMask       = C.CL_OP_MASK
	opRemountRO  = C.CL_OP_REMOUNT_RO
	opSetnsUser  = C.CL_OP_SETNS_USER
	opCloseFDs   = C.CL_OP_CLOSE_FDS
	opExec       = C.CL_OP_EXEC
	opSetns      = C.CL_OP_SETNS
	opChroot     = C.CL_OP_CHROOT

	fRecursive = C.CL_F_RECURSIVE
	fTimed     = C.CL_F_TIMED
)

// Flags of an op, for the builders that take them.
const (
	FlagOptional  = C.CL_F_OPTIONAL       // a failure is ignored
	FlagMkdir     = C.CL_F_MKDIR          // create the target directory (and parents)
	FlagMkfile    = C.CL_F_MKFILE         // create the target as an empty file
	FlagMissingOK = C.CL_F_IGNORE_MISSING // ENOENT is not a failure
	FlagNoParents = C.CL_F_NO_PARENTS     // with FlagMkfile: only the file, where its directory exists
)

// MaxSlots is how many mount trees OpenTree can hold at once (spawn.h).
const MaxSlots = int(C.CL_MAX_SLOTS)

// List is one batch of operations and a description of each.
type List struct {
	buf  []byte
	desc []string
	last int // offset of the last op's header

	Timing bool           // --timing: mark phase ends
	phases map[int]string // op index (in this batch) -> the phase it ends
}

// phaseEnd marks the last op as the end of a --timing phase: the child
// reports when it is done.
func (l *List) PhaseEnd(name string) {
	if !l.Timing || len(l.desc) == 0 {
		return
	}
	flags := binary.NativeEndian.Uint32(l.buf[l.last+4:])
	binary.NativeEndian.PutUint32(l.buf[l.last+4:], flags|fTimed)
	if l.phases == nil {
		l.phases = map[int]string{}
	}
	l.phases[len(l.desc)-1] = name
}

func (l *List) raw(code, flags uint32, num uint64, desc string, strs ...[]byte) {
	l.last = len(l.buf)
	var h [opHeaderSize]byte
	binary.NativeEndian.PutUint32(h[0:], code)
	binary.NativeEndian.PutUint32(h[4:], flags)
	binary.NativeEndian.PutUint64(h[8:], num)
	binary.NativeEndian.PutUint32(h[16:], uint32(len(strs)))
	l.buf = append(l.buf, h[:]...)
	for _, s := range strs {
		l.buf = binary.NativeEndian.AppendUint32(l.buf, uint32(len(s)+1))
		l.buf = append(l.buf, s...)
		l.buf = append(l.buf, 0)
	}
	l.desc = append(l.desc, desc)
}

func (l *List) add(code, flags uint32, num uint64, desc string, strs ...string) {
	b := make([][]byte, len(strs))
	for i, s := range strs {
		b[i] = []byte(s)
	}
	l.raw(code, flags, num, desc, b...)
}

func (l *List) Mount(src, target, fstype, data string, mflags uintptr, flags uint32) {
	name := fstype
	if name == "" {
		name = src
	}
	l.add(opMount, flags, uint64(mflags), fmt.Sprintf("mount %s on %s", name, target), src, target, fstype, data)
}

func (l *List) Symlink(target, link string) {
	l.add(opSymlink, 0, 0, fmt.Sprintf("create symlink %s -> %s", link, target), target, link)
}

// Readonly makes the mount at path and every mount below it read-only.
func (l *List) Readonly(path string, flags uint32) {
	l.add(opReadonly, flags, 0, "make "+path+" read-only", path)
}

// KeepCaps keeps the permitted capabilities across the setuid that follows.
func (l *List) KeepCaps() { l.add(opKeepCaps, 0, 1, "keep capabilities across setuid") }

// openTree clones the mount tree at path into slot before pivot_root hides
// it; moveMount attaches it after, at a target resolved inside the new root.
func (l *List) OpenTree(path string, slot int, recursive bool) {
	var f uint32
	if recursive {
		f = fRecursive
	}
	l.add(opOpenTree, f, uint64(slot), "open mount tree "+path, path)
}

func (l *List) MoveMount(slot int, target string, flags uint32) {
	l.add(opMoveMount, flags, uint64(slot), "bind mount on "+target, target)
}

func (l *List) Pivot(root string) { l.add(opPivot, 0, 0, "pivot_root to "+root, root) }

func (l *List) Chdir(dir string, flags uint32) {
	l.add(opChdir, flags, 0, "change directory to "+dir, dir)
}

func (l *List) Hostname(name string) { l.add(opHostname, 0, 0, "set hostname "+name, name) }
func (l *List) Loopback()            { l.add(opLoopback, 0, 0, "bring up the loopback interface") }
func (l *List) Sync()                { l.add(opSync, 0, 0, "report the root filesystem ready") }
func (l *List) Setgid(gid uint32)    { l.add(opSetgid, 0, uint64(gid), fmt.Sprintf("setgid %d", gid)) }
func (l *List) Setuid(uid uint32)    { l.add(opSetuid, 0, uint64(uid), fmt.Sprintf("setuid %d", uid)) }
func (l *List) NoNewPrivs()          { l.add(opNoNewPrivs, 0, 0, "set no_new_privs") }
func (l *List) Setsid()              { l.add(opSetsid, 0, 0, "create a session") }

func (l *List) Setgroups(gids []uint32) {
	b := make([]byte, 0, 4*len(gids))
	for _, g := range gids {
		b = binary.NativeEndian.AppendUint32(b, g)
	}
	l.raw(opSetgroups, 0, 0, fmt.Sprintf("setgroups %v", gids), b)
}

// CapSet is the capability sets of a process, bounding set aside.
type CapSet struct {
	Effective, Permitted, Inheritable, Ambient uint64
}

func (l *List) Caps(c CapSet) {
	var b [32]byte
	for i, v := range []uint64{c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
		binary.NativeEndian.PutUint64(b[8*i:], v)
	}
	l.raw(opCaps, 0, 0, "set capabilities", b[:])
}

// bounding limits the bounding set to keep (it needs CAP_SETPCAP, so it
// comes before credentials change).
func (l *List) Bounding(keep uint64) {
	l.add(opBounding, 0, keep, "limit the bounding capability set")
}

func (l *List) Dup2(oldfd, newfd int) {
	l.add(opDup2, 0, uint64(oldfd)<<32|uint64(newfd), fmt.Sprintf("dup2 %d to %d", oldfd, newfd))
}

func (l *List) Setctty(fd int) {
	l.add(opSetctty, 0, uint64(fd), "set the controlling terminal")
}

// open opens path read-write as file descriptor fd (e.g. /dev/null as stdin).
func (l *List) Open(path string, fd int) {
	l.add(opOpen, 0, uint64(fd), fmt.Sprintf("open %s as fd %d", path, fd), path)
}

// openPty makes the container's terminal; see open_pty in spawn.c.
func (l *List) OpenPty() { l.add(opOpenPty, 0, 0, "create the container's terminal") }

// OpenExecPty makes a terminal for a process exec'd into a running
// container: a pty of the container's devpts like OpenPty's, but
// /dev/console stays the container's own.
func (l *List) OpenExecPty() { l.add(opOpenPty, 0, 1, "create the terminal of the exec'd process") }

// Setns enters the namespace open as fd (of type nstype, a CLONE_NEW*
// flag) and closes fd; what names the kind of namespace for errors.
func (l *List) Setns(fd int, nstype uintptr, what string) {
	l.add(opSetns, 0, uint64(fd)<<32|uint64(nstype), "enter the container's "+what+" namespace")
}

// Chroot makes the directory open as fd (the container's root, opened by
// the monitor) our root and working directory, and closes fd.
func (l *List) Chroot(fd int) {
	l.add(opChroot, 0, uint64(fd), "enter the container's root directory")
}

// chownStdin gives the terminal on fd 0 to the command's user, as login does.
func (l *List) ChownStdin(uid, gid uint32) {
	l.add(opChownStdin, 0, uint64(uid)<<32|uint64(gid), "give the terminal to the user")
}

// init forks the container's init (--init); the command runs in the child.
func (l *List) Init() { l.add(opInit, 0, 0, "start the container's init") }

// seccomp loads a filter (struct sock_filter array).
func (l *List) Seccomp(filter []byte) {
	l.raw(opSeccomp, 0, 0, "load the seccomp filter", filter)
}

// mask hides path (a missing path is fine).
func (l *List) Mask(path string) { l.add(opMask, FlagMissingOK, 0, "mask "+path, path) }

// remountReadonly makes the one mount at path read-only.
func (l *List) RemountReadonly(path string) {
	l.add(opRemountRO, 0, 0, "remount "+path+" read-only", path)
}

// setnsUser enters the user namespace open as fd in the monitor.
func (l *List) SetnsUser(fd int) {
	l.add(opSetnsUser, 0, uint64(fd), "enter the container's user namespace")
}

// CloseFDs closes every fd the child inherited from the monitor, but the
// first preserve above stderr (3 .. 3+preserve-1, --preserve-fds: the
// command gets them) and keep (fds a later op uses). Emitted before any
// path inside the container is resolved: a directory fd the monitor's
// caller leaked is a way out of the container (/proc/self/fd/N as a
// working directory: CVE-2024-21626).
func (l *List) CloseFDs(preserve int, keep ...int) {
	b := make([]byte, 0, 4*len(keep))
	for _, fd := range keep {
		b = binary.NativeEndian.AppendUint32(b, uint32(fd))
	}
	l.raw(opCloseFDs, 0, uint64(preserve), "close inherited fds", b)
}

// Exec ends the last batch: argv[0], unless it has a slash, is looked up
// in env's PATH, which env must have (spec.DefaultPath is the default).
func (l *List) Exec(argv, env []string) {
	l.add(opExec, 0, uint64(len(argv)), "exec "+argv[0], append(append([]string{}, argv...), env...)...)
}
