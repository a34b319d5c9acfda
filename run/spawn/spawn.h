#ifndef CRUNLITE_SPAWN_H
#define CRUNLITE_SPAWN_H

#include <stddef.h>
#include <stdint.h>

// Operation codes; ops.go builds them through cgo, so there is one list.
enum {
	CL_OP_MOUNT = 1,     // s: source, target, fstype, data; num: mount flags
	CL_OP_SYMLINK,       // s: target, linkpath
	CL_OP_READONLY,      // s: path (the mount and all below it)
	CL_OP_OPEN_TREE,     // s: path; num: slot
	CL_OP_MOVE_MOUNT,    // s: target; num: slot
	CL_OP_PIVOT,         // s: new root
	CL_OP_CHDIR,         // s: path
	CL_OP_SETHOSTNAME,   // s: name
	CL_OP_LOOPBACK,      // bring up lo in a new network namespace
	CL_OP_SYNC,          // report READY, read the next batch
	CL_OP_SETGROUPS,     // s: raw gid_t array
	CL_OP_SETGID,        // num: gid
	CL_OP_SETUID,        // num: uid
	CL_OP_KEEPCAPS,      // num: 0 or 1
	CL_OP_CAPS,          // s: raw struct cl_caps (effective, permitted, inheritable, ambient)
	CL_OP_BOUNDING,      // num: the capabilities to keep in the bounding set
	CL_OP_NO_NEW_PRIVS,
	CL_OP_DUP2,          // num: old << 32 | new
	CL_OP_SETSID,
	CL_OP_SETCTTY,       // num: fd
	CL_OP_OPEN,          // s: path; num: the fd to open it as (O_RDWR)
	CL_OP_OPENPTY,       // new pty in the container's devpts: master to the monitor (PTY message), slave on fds 0-2 and, unless num is 1, /dev/console
	CL_OP_CHOWN_STDIN,   // num: uid << 32 | gid, for the terminal on fd 0
	CL_OP_INIT,          // fork: the parent becomes the container's init (run/init.c), the child goes on
	CL_OP_SECCOMP,       // s: raw struct sock_filter array
	CL_OP_MASK,          // s: path: a directory gets an empty read-only tmpfs, a file /dev/null
	CL_OP_REMOUNT_RO,    // s: path: that one mount (not those below) becomes read-only
	CL_OP_SETNS_USER,    // num: fd of a user namespace to enter (--userns=keep-id)
	CL_OP_CLOSE_FDS,     // num: N; s: raw int32 array: close every fd from 3 + N up but those and the socket; the command keeps 3 .. 3+N-1
	CL_OP_EXEC,          // num: argc; s: argv..., env...
	CL_OP_SETNS,         // num: fd << 32 | CLONE_NEW* type: enter that namespace of a running container (exec)
	CL_OP_CHROOT,        // num: fd of a directory (O_PATH): it becomes our root and working directory (exec)
};

// Mount trees an OPEN_TREE can hold at once, until MOVE_MOUNT uses them.
#define CL_MAX_SLOTS 64

// Op flags.
enum {
	CL_F_OPTIONAL = 1 << 0,  // a failure is ignored
	CL_F_MKDIR = 1 << 1,     // create the target directory (and parents)
	CL_F_MKFILE = 1 << 2,    // create the target as an empty file
	CL_F_RECURSIVE = 1 << 3, // open_tree the whole subtree
	CL_F_IGNORE_MISSING = 1 << 4, // ENOENT is not a failure
	CL_F_TIMED = 1 << 5,          // report CLOCK_MONOTONIC when done (TIME message), for --timing
	CL_F_NO_PARENTS = 1 << 6,     // with CL_F_MKFILE: only the file; a missing directory above it is ENOENT
};

struct cl_op_header {
	uint32_t code;
	uint32_t flags;
	uint64_t num;
	uint32_t nstr;
	uint32_t pad;
};

struct cl_caps {
	uint64_t effective, permitted, inheritable, ambient;
};

// Messages from the child; ops.go draws the handshake they make.
enum {
	CL_MSG_READY = 1,
	CL_MSG_ERROR = 2,
	CL_MSG_PTY = 3,  // carries the master fd
	CL_MSG_TIME = 4, // err and code carry the low and high half of a CLOCK_MONOTONIC time in ns
};

struct cl_msg {
	uint32_t type;
	uint32_t op;
	int32_t err;
	uint32_t code;
};

// crunlite_init_hide_args replaces our argv (host paths) with "init".
void crunlite_init_hide_args(void);
// crunlite_init_main is the loop of the container's init (init.c).
__attribute__((noreturn)) void crunlite_init_main(int child);

// crunlite_spawn options
enum {
	CL_SPAWN_SHARED = 1,   // CLONE_VM until the child execs
	CL_SPAWN_DETACHED = 2, // the child may outlive us (no parent-death signal)
	CL_SPAWN_TIMED = 4,    // the child reports when it starts (TIME message, op CL_OP_START)
};

// The op index of the TIME message a timed child sends as it starts.
#define CL_OP_START 0xffffffffu

// pidns, when not -1, is a pid namespace the child is cloned into (exec),
// by a helper process: the calling thread's namespaces stay as they are.
int crunlite_spawn(const void *ops, size_t len, int sock, unsigned long flags, int opts, int pidns, void **region,
		   size_t *region_len);
void crunlite_spawn_free(void *region, size_t len);

#endif
