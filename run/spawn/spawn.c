// The container's first process, from clone() to execve().
//
// Go cannot run code between fork and exec, and re-executing the binary as an
// "init" costs a whole Go start (about 5 ms for this binary). Instead the
// monitor calls crunlite_spawn() through cgo: it clones a child in new
// namespaces, and the child, which never runs Go code, interprets a list of
// operations prepared by Go (ops.go) and finally execs the command. Policy
// (which mounts, which user, which environment) stays in Go; this file only
// performs steps and reports the first that fails.
//
// The child is a copy of one thread of a multithreaded process, so it must
// not take locks another thread could have held: no malloc, no stdio, only
// system calls and string functions on memory it owns (see fork(2) on
// async-signal-safety). Buffers come from mmap. Credentials change through
// raw system calls: glibc's setresuid/setgroups broadcast the change to every
// thread it believes exists and wait for each, and a Go thread that was being
// created at clone time makes that wait last forever (seen here as a
// one-in-fifty hang). For the same reason the init is forked with a raw clone,
// not fork(3), which takes glibc's internal locks. The package links with
// -z now so that no lazy symbol binding happens in the child either.
//
// The wire format and the handshake are described in ops.go.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct cl_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

#define STACK_SIZE (256 * 1024)
#define JOIN_STACK_SIZE (16 * 1024) // join_main's: a few calls deep

struct child_ctx {
	const unsigned char *ops;
	size_t len;
	int sock;
	int detached; // outlives us: no parent-death signal
	int timed;    // report the start (--timing)
};

// Per-child state; the child is single-threaded, so globals are safe. A
// child that shares our memory (CLONE_VM) shares these too: child_main sets
// them afresh, and only one such child runs at a time.
static int slots[CL_MAX_SLOTS];
static uint32_t op_index;

static void write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int sock_fd = -1;
static int preserve_fds; // fds 3 .. 3+preserve_fds-1 go to the command (CLOSE_FDS)

__attribute__((noreturn)) static void fail(int err, int code)
{
	struct cl_msg m = {.type = CL_MSG_ERROR, .op = op_index, .err = err, .code = (uint32_t)code};
	write_full(sock_fd, &m, sizeof(m));
	_exit(code);
}

// mkdir_prefix creates the directory named by the first n bytes of path,
// and its parents, like mkdir -p.
static int mkdir_prefix(const char *path, size_t n, mode_t mode)
{
	char buf[4096];
	if (n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n);
	buf[n] = 0;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	return mkdir_prefix(path, strlen(path), mode);
}

// mkdir_parent makes the directories above path.
static int mkdir_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return 0;
	return mkdir_prefix(path, (size_t)(slash - path), 0755);
}

// ensure_file leaves a regular file at path for a bind mount to land on. A
// symlink there is replaced: this runs after pivot_root, on the container's
// own layer, and following it could put the mount somewhere unexpected.
// The directories above it are made too, unless parents is 0: then a
// missing one is ENOENT.
static int ensure_file(const char *path, mode_t mode, int parents)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode)) {
			if (unlink(path) < 0)
				return -1;
		} else if (S_ISDIR(st.st_mode)) {
			errno = EISDIR;
			return -1;
		} else {
			return 0;
		}
	} else if (errno != ENOENT) {
		return -1;
	} else if (parents && mkdir_parent(path) < 0) {
		return -1;
	}
	int fd = open(path, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

// prepare_target creates a mount point as the op asks and refuses symlinks,
// so that an image cannot redirect a mount with a planted link.
static int prepare_target(const char *target, uint32_t flags)
{
	struct stat st;
	if (flags & CL_F_MKDIR) {
		if (lstat(target, &st) == 0 && S_ISLNK(st.st_mode)) {
			errno = ELOOP;
			return -1;
		}
		return mkdir_p(target, 0755);
	}
	if (flags & CL_F_MKFILE)
		return ensure_file(target, 0644, !(flags & CL_F_NO_PARENTS));
	if (lstat(target, &st) == 0 && S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return -1;
	}
	return 0;
}

static int set_readonly_recursive(const char *path)
{
	struct cl_mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof(attr)) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	// Before Linux 5.12 only the top mount can be made read-only.
	return mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
}

static int do_pivot(const char *root)
{
	if (chdir(root) < 0)
		return -1;
	// pivot_root(".", ".") stacks the old root on top of the new one; the
	// detach below then drops it without needing a directory for it.
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return -1;
	if (umount2(".", MNT_DETACH) < 0)
		return -1;
	return chdir("/");
}

// send_fd passes fd to the monitor with a PTY message (SCM_RIGHTS).
static int send_fd(int fd)
{
	struct cl_msg m = {.type = CL_MSG_PTY, .op = op_index};
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock_fd, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -1;
}

// open_pty makes the container's terminal in its own devpts instance (never
// the host's terminal: a container holding the host tty could inject input
// with TIOCSTI). The slave becomes stdin, stdout, stderr and /dev/console.
static int open_pty(int console)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return -1;
	int unlock = 0, n;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
		return -1;
	char path[32] = "/dev/pts/";
	char digits[12];
	int len = 0;
	do {
		digits[len++] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	for (int i = 0; i < len; i++)
		path[9 + i] = digits[len - 1 - i];
	path[9 + len] = 0;
	int slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return -1;
	if (send_fd(master) < 0)
		return -1;
	close(master);
	for (int fd = 0; fd <= 2; fd++)
		if (dup2(slave, fd) < 0)
			return -1;
	if (slave > 2)
		close(slave);
	if (!console)
		return 0;
	if (ensure_file("/dev/console", 0600, 1) < 0)
		return -1;
	return mount(path, "/dev/console", NULL, MS_BIND, NULL);
}

// start_init forks: the parent stays as the container's init (init.c) and
// the child returns to exec the command. The init does not exec anything: the
// image may have no dynamic loader for this binary, and a copy of the monitor
// that only runs the C loop in init.c costs nothing but page tables. Signals
// stay blocked across the fork so none sent early is lost by a pid 1 without
// a handler (the kernel drops those).
static int start_init(void)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	crunlite_init_hide_args(); // before the fork, so no ps can see them
	pid_t child = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (child < 0)
		return -1;
	if (child == 0) {
		// The command gets a process group of its own and, on a terminal,
		// the foreground, as a shell does for a job: the terminal's signals
		// (Ctrl-C, Ctrl-\) then reach it alone, not also the init, which
		// would forward them a second time. Without a terminal tcsetpgrp
		// fails, which is fine. SIGTTOU, which a background group gets for
		// tcsetpgrp, is blocked here.
		setpgid(0, 0);
		tcsetpgrp(0, getpid());
		return 0;
	}
	// Only the command's exec may close the last copy of the socket: that
	// EOF is how the monitor learns the command started.
	close(sock_fd);
	syscall(SYS_close_range, 3, ~0U, 0);
	crunlite_init_main(child);
}

// close_fds closes every fd from 3 + preserve up but sock_fd and keep.
static int close_fds(int preserve, const int32_t *keep_raw, size_t nkeep)
{
	unsigned int keep[66];
	size_t n = 0;
	if (preserve < 0 || nkeep > 64) {
		errno = EINVAL;
		return -1;
	}
	keep[n++] = (unsigned int)sock_fd;
	for (size_t i = 0; i < nkeep; i++) {
		int32_t k;
		memcpy(&k, keep_raw + i, sizeof(k));
		keep[n++] = (unsigned int)k;
	}
	for (size_t i = 1; i < n; i++) // sort: a handful of fds
		for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			unsigned int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	unsigned int from = 3 + (unsigned int)preserve;
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < from)
			continue;
		if (keep[i] > from && syscall(SYS_close_range, from, keep[i] - 1, 0) < 0)
			return -1;
		from = keep[i] + 1;
	}
	if (syscall(SYS_close_range, from, ~0U, 0) < 0)
		return -1;
	preserve_fds = preserve;
	return 0;
}

static int load_seccomp(const char *filter, uint32_t len)
{
	struct sock_fprog {
		unsigned short len;
		const void *filter;
	} prog = {.len = (unsigned short)(len / 8), .filter = filter};
	return (int)syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, &prog);
}

// mask hides a path of /proc or /sys the way runc does: an empty read-only
// tmpfs over a directory, /dev/null over anything else.
static int mask(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode))
		return mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0755");
	return mount("/dev/null", path, NULL, MS_BIND, NULL);
}

static int loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	int r = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (r == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	int e = errno;
	close(s);
	errno = e;
	return r;
}

// drop_bounding removes from the bounding set every capability not in keep.
static int drop_bounding(uint64_t keep)
{
	for (int cap = 0; cap <= 63; cap++) {
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
			continue; // gone already, or unknown to this kernel
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -1;
	}
	return 0;
}

// set_caps sets the effective, permitted, inheritable and ambient sets.
static int set_caps(const struct cl_caps *c)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(c->effective >> (32 * i));
		data[i].permitted = (uint32_t)(c->permitted >> (32 * i));
		data[i].inheritable = (uint32_t)(c->inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -1;
	for (int cap = 0; cap <= 63; cap++)
		if ((c->ambient & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return -1;
	return 0;
}

// exec_cmd runs argv[0] like execvpe: names without a slash are looked up in
// the container's PATH, and the error reported is the one a shell would
// give (EACCES beats ENOENT).
__attribute__((noreturn)) static void exec_cmd(char **argv, char **envp)
{
	const char *file = argv[0];
	if (strchr(file, '/')) {
		execve(file, argv, envp);
		fail(errno, (errno == ENOENT || errno == ENOTDIR) ? 127 : 126);
	}
	// The PATH is always in envp: the default of an image without one is
	// added in Go (spec.DefaultPath), the one place it is written down.
	const char *path = NULL;
	for (char **e = envp; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	if (path == NULL)
		fail(ENOENT, 127);
	int seen_eacces = 0, last = ENOENT;
	char buf[4096];
	size_t flen = strlen(file);
	for (const char *p = path;; p++) {
		const char *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);
		if (dlen + flen + 2 < sizeof(buf)) {
			if (dlen == 0) {
				buf[0] = '.';
				dlen = 1;
			} else {
				memcpy(buf, p, dlen);
			}
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, file, flen + 1);
			execve(buf, argv, envp);
			last = errno;
			if (errno == EACCES)
				seen_eacces = 1;
		}
		if (!end)
			break;
		p = end;
	}
	if (seen_eacces)
		fail(EACCES, 126);
	fail(last, (last == ENOENT || last == ENOTDIR) ? 127 : 126);
}

// Reading one op: header, then nstr length-prefixed NUL-terminated strings.
struct op {
	uint32_t code, flags, nstr;
	uint64_t num;
	const char *s[8];
	uint32_t slen[8];
	const unsigned char *strs; // start of the strings, for ops with many
};

static const unsigned char *next_op(const unsigned char *p, const unsigned char *end, struct op *o)
{
	struct cl_op_header h;
	if ((size_t)(end - p) < sizeof(h))
		return NULL;
	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	o->code = h.code;
	o->flags = h.flags;
	o->num = h.num;
	o->nstr = h.nstr;
	o->strs = p;
	for (uint32_t i = 0; i < h.nstr; i++) {
		uint32_t len;
		if ((size_t)(end - p) < sizeof(len))
			return NULL;
		memcpy(&len, p, sizeof(len));
		p += sizeof(len);
		if ((size_t)(end - p) < len || len == 0 || p[len - 1] != 0)
			return NULL;
		if (i < 8) {
			o->s[i] = (const char *)p;
			o->slen[i] = len - 1;
		}
		p += len;
	}
	return p;
}

// string_vector fills an mmap'd NULL-terminated array with n strings
// starting at p (the layout next_op validated).
static char **string_vector(const unsigned char **pp, uint32_t n)
{
	char **v = mmap(NULL, (n + 1) * sizeof(char *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v == MAP_FAILED)
		fail(errno, 125);
	const unsigned char *p = *pp;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len;
		memcpy(&len, p, sizeof(len));
		p += sizeof(len);
		v[i] = (char *)p;
		p += len;
	}
	v[n] = NULL;
	*pp = p;
	return v;
}

static const unsigned char *sync_parent(size_t *len);

static int run_op(struct op *o, const unsigned char **batch, const unsigned char **end)
{
	switch (o->code) {
	case CL_OP_MOUNT: {
		if (prepare_target(o->s[1], o->flags) < 0)
			return -1;
		const char *src = o->slen[0] ? o->s[0] : NULL;
		const char *fs = o->slen[2] ? o->s[2] : NULL;
		const char *data = o->slen[3] ? o->s[3] : NULL;
		return mount(src, o->s[1], fs, (unsigned long)o->num, data);
	}
	case CL_OP_SYMLINK:
		if (symlink(o->s[0], o->s[1]) < 0 && errno != EEXIST)
			return -1;
		return 0;
	case CL_OP_READONLY:
		return set_readonly_recursive(o->s[0]);
	case CL_OP_OPEN_TREE: {
		if (o->num >= CL_MAX_SLOTS) {
			errno = EINVAL;
			return -1;
		}
		unsigned int fl = OPEN_TREE_CLONE | O_CLOEXEC;
		if (o->flags & CL_F_RECURSIVE)
			fl |= AT_RECURSIVE;
		int fd = (int)syscall(SYS_open_tree, AT_FDCWD, o->s[0], fl);
		if (fd < 0)
			return -1;
		slots[o->num] = fd;
		return 0;
	}
	case CL_OP_MOVE_MOUNT:
		if (o->num >= CL_MAX_SLOTS || slots[o->num] < 0) {
			errno = EBADF;
			return -1;
		}
		if (prepare_target(o->s[0], o->flags) < 0)
			return -1;
		if (syscall(SYS_move_mount, slots[o->num], "", AT_FDCWD, o->s[0], MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return -1;
		close(slots[o->num]);
		slots[o->num] = -1;
		return 0;
	case CL_OP_PIVOT:
		return do_pivot(o->s[0]);
	case CL_OP_CHDIR: {
		if (o->flags & CL_F_MKDIR && mkdir_p(o->s[0], 0755) < 0)
			return -1;
		if (chdir(o->s[0]) < 0)
			return -1;
		// The kernel answers a cwd outside our root with "(unreachable)":
		// a path through a leaked fd or a magic link got out. EXDEV says so.
		char cwd[4096];
		if (syscall(SYS_getcwd, cwd, sizeof(cwd)) < 0)
			return -1;
		if (cwd[0] != '/') {
			errno = EXDEV;
			return -1;
		}
		return 0;
	}
	case CL_OP_CLOSE_FDS:
		return close_fds((int)o->num, (const int32_t *)(const void *)o->s[0], o->slen[0] / sizeof(int32_t));
	case CL_OP_SETHOSTNAME:
		return sethostname(o->s[0], o->slen[0]);
	case CL_OP_LOOPBACK:
		return loopback_up();
	case CL_OP_SYNC: {
		size_t len;
		const unsigned char *b = sync_parent(&len);
		*batch = b;
		*end = b + len;
		return 0;
	}
	case CL_OP_SETGROUPS: {
		size_t n = o->slen[0] / sizeof(gid_t);
		gid_t gids[1024];
		if (n > 1024) {
			errno = E2BIG;
			return -1;
		}
		memcpy(gids, o->s[0], n * sizeof(gid_t));
		return (int)syscall(SYS_setgroups, n, gids);
	}
	case CL_OP_SETGID:
		return (int)syscall(SYS_setresgid, (gid_t)o->num, (gid_t)o->num, (gid_t)o->num);
	case CL_OP_SETUID:
		return (int)syscall(SYS_setresuid, (uid_t)o->num, (uid_t)o->num, (uid_t)o->num);
	case CL_OP_KEEPCAPS:
		return prctl(PR_SET_KEEPCAPS, (unsigned long)o->num, 0, 0, 0);
	case CL_OP_CAPS: {
		struct cl_caps c;
		if (o->slen[0] != sizeof(c)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(&c, o->s[0], sizeof(c));
		return set_caps(&c);
	}
	case CL_OP_BOUNDING:
		return drop_bounding(o->num);
	case CL_OP_NO_NEW_PRIVS:
		return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	case CL_OP_DUP2:
		return dup2((int)(o->num >> 32), (int)(o->num & 0xffffffff)) < 0 ? -1 : 0;
	case CL_OP_SETSID:
		return setsid() < 0 ? -1 : 0;
	case CL_OP_SETCTTY:
		return ioctl((int)o->num, TIOCSCTTY, 0);
	case CL_OP_OPEN: {
		int fd = open(o->s[0], O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -1;
		if (fd == (int)o->num)
			return fcntl(fd, F_SETFD, 0);
		int r = dup2(fd, (int)o->num);
		close(fd);
		return r < 0 ? -1 : 0;
	}
	case CL_OP_OPENPTY:
		return open_pty(o->num != 1);
	case CL_OP_CHOWN_STDIN:
		return fchown(0, (uid_t)(o->num >> 32), (gid_t)(o->num & 0xffffffff));
	case CL_OP_INIT:
		return start_init();
	case CL_OP_SECCOMP:
		return load_seccomp(o->s[0], o->slen[0]);
	case CL_OP_MASK:
		return mask(o->s[0]);
	case CL_OP_REMOUNT_RO:
		return mount(NULL, o->s[0], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
	case CL_OP_SETNS_USER:
		return setns((int)o->num, CLONE_NEWUSER);
	case CL_OP_SETNS: {
		int fd = (int)(o->num >> 32), type = (int)(o->num & 0xffffffff);
		if (setns(fd, type) < 0)
			return -1;
		close(fd);
		return 0;
	}
	case CL_OP_CHROOT: {
		// After setns(CLONE_NEWNS) our root is the namespace's root mount;
		// the container's root is the directory its monitor opened as
		// /proc/PID/root, which is what a chroot to it makes ours.
		int fd = (int)o->num;
		if (fchdir(fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
			return -1;
		close(fd);
		return 0;
	}
	case CL_OP_EXEC: {
		const unsigned char *p = o->strs;
		uint32_t argc = (uint32_t)o->num;
		if (argc == 0 || argc > o->nstr) {
			errno = EINVAL;
			return -1;
		}
		char **argv = string_vector(&p, argc);
		char **envp = string_vector(&p, o->nstr - argc);
		// Nothing but stdio crosses into the command: fds inherited by the
		// monitor from its own caller close at exec, and so does sock_fd,
		// which tells the monitor that exec succeeded.
		syscall(SYS_close_range, 3 + preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
		for (int fd = 3; fd < 3 + preserve_fds; fd++)
			fcntl(fd, F_SETFD, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		exec_cmd(argv, envp);
	}
	default:
		errno = ENOSYS;
		return -1;
	}
}

// sync_parent tells the monitor this batch is done and reads the next one.
static const unsigned char *sync_parent(size_t *len)
{
	struct cl_msg m = {.type = CL_MSG_READY, .op = op_index};
	write_full(sock_fd, &m, sizeof(m));
	uint32_t n;
	if (read_full(sock_fd, &n, sizeof(n)) < 0)
		_exit(125); // the monitor went away: nothing to report to
	unsigned char *b = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		fail(errno, 125);
	if (read_full(sock_fd, b, n) < 0)
		_exit(125);
	*len = n;
	return b;
}

static void report_time(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	struct cl_msg m = {.type = CL_MSG_TIME, .op = op_index, .err = (int32_t)(uint32_t)ns, .code = (uint32_t)(ns >> 32)};
	write_full(sock_fd, &m, sizeof(m));
}

static int child_main(void *arg)
{
	struct child_ctx *ctx = arg;
	sock_fd = ctx->sock;
	if (ctx->timed) {
		op_index = CL_OP_START;
		report_time();
	}
	op_index = 0;
	preserve_fds = 0;
	for (int i = 0; i < CL_MAX_SLOTS; i++)
		slots[i] = -1;
	// The Go runtime's handlers must never run here: reset every handler
	// while signals are still blocked (the monitor blocked them for clone).
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	// Die with the monitor, so a killed crun-lite leaves no container behind.
	if (!ctx->detached && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(errno, 125);

	const unsigned char *p = ctx->ops, *end = ctx->ops + ctx->len;
	while (p < end) {
		struct op o;
		const unsigned char *next = next_op(p, end, &o);
		if (!next)
			fail(EPROTO, 125);
		p = next;
		if (run_op(&o, &p, &end) < 0 && !(o.flags & CL_F_OPTIONAL) &&
		    !((o.flags & CL_F_IGNORE_MISSING) && errno == ENOENT))
			fail(errno, 125);
		if (o.flags & CL_F_TIMED)
			report_time();
		op_index++;
	}
	fail(EPROTO, 125); // a batch must end with SYNC or EXEC
}

// join_ctx is what join_main needs to clone the child in a pid namespace.
struct join_ctx {
	int pidns;
	char *stack_top;
	unsigned long flags;
	struct child_ctx *ctx;
	int pid, err; // its answer
};

// join_main enters the pid namespace and clones the child as a sibling:
// our child, in the container's pid namespace.
static int join_main(void *arg)
{
	struct join_ctx *j = arg;
	if (setns(j->pidns, CLONE_NEWPID) < 0) {
		j->err = errno;
		_exit(0);
	}
	j->pid = clone(child_main, j->stack_top, (int)(j->flags | CLONE_PARENT), j->ctx);
	j->err = errno;
	_exit(0);
}

// crunlite_spawn starts the child on a batch of ops. With shared set the
// child shares our memory (CLONE_VM) until it execs, like vfork without the
// wait: cloning a Go process's page tables and the copy-on-write faults on
// both sides afterwards cost about a millisecond otherwise. The child then
// runs on a region we mmap here (its context, a copy of the ops, its stack),
// which the caller frees with crunlite_spawn_free once the child is gone.
int crunlite_spawn(const void *ops, size_t len, int sock, unsigned long flags, int opts, int pidns, void **region,
		   size_t *region_len)
{
	int shared = opts & CL_SPAWN_SHARED;
	size_t ops_len = (len + 15) & ~(size_t)15;
	size_t total = sizeof(struct child_ctx) + ops_len + JOIN_STACK_SIZE + STACK_SIZE;
	char *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (mem == MAP_FAILED)
		return -1;
	struct child_ctx *ctx = (struct child_ctx *)mem;
	unsigned char *ops_copy = (unsigned char *)mem + sizeof(*ctx);
	memcpy(ops_copy, ops, len);
	ctx->ops = ops_copy;
	ctx->len = len;
	ctx->sock = sock;
	ctx->detached = (opts & CL_SPAWN_DETACHED) != 0;
	ctx->timed = (opts & CL_SPAWN_TIMED) != 0;
	char *stack_top = mem + total;
	char *join_stack_top = mem + sizeof(*ctx) + ops_len + JOIN_STACK_SIZE;

	unsigned long clone_flags = flags | SIGCHLD;
	if (shared)
		clone_flags |= CLONE_VM;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int pid, err;
	if (pidns >= 0) {
		// A pid namespace is entered by a new process only (setns moves
		// the caller's future children), and this thread cannot enter
		// and leave it itself: going back to our own namespace takes
		// CAP_SYS_ADMIN over its owner, which a rootless crun-lite lacks,
		// and a Go thread left in it could not make threads. So a helper
		// sharing our memory enters it and clones the child as our own
		// (CLONE_PARENT), then exits; we wait for it (CLONE_VFORK).
		struct join_ctx j = {.pidns = pidns, .stack_top = stack_top, .flags = clone_flags, .ctx = ctx, .pid = -1, .err = 0};
		int helper = clone(join_main, join_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &j);
		if (helper < 0) {
			pid = -1;
			err = errno;
		} else {
			while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
				;
			pid = j.pid;
			err = j.err;
		}
	} else {
		pid = clone(child_main, stack_top, (int)clone_flags, ctx);
		err = errno;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0 || !shared) {
		munmap(mem, total); // a forked child has its own copy
		mem = NULL;
		total = 0;
	}
	*region = mem;
	*region_len = total;
	errno = err;
	return pid;
}

void crunlite_spawn_free(void *region, size_t len)
{
	if (region)
		munmap(region, len);
}
