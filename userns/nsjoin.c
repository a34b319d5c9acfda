// Joining the per-user namespace before the Go runtime starts.
//
// setns(CLONE_NEWUSER) is refused to a multithreaded process and the Go
// runtime starts threads before main, so joining the holder's user and mount
// namespaces has to happen here, in an ELF constructor that runs while the
// process is still single-threaded (runc's libcontainer/nsenter does the same).
// Everything else about the namespace lives in Go (userns/*.go); this file only
// reads the holder's pid file and calls setns, and reads the command line
// once for Go too (struct crunlite_cmdline). The pid file's path is built
// here only (crunlite_pidfile_path, which userns.PidFile calls); the runtime
// dir it lies in follows the rule of internal/paths.RuntimeDir, which the
// store's run root uses, and userns tests that the two agree.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "nsjoin.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int crunlite_joined;
long long crunlite_ctor_ns; // CLOCK_MONOTONIC at the constructor's start, for --timing
int crunlite_host_uid = -1;
int crunlite_host_gid = -1;
char crunlite_join_error[256];

// Global options that take a value, so the constructor can find the command
// name in argv. cmd/crun-lite tests that this list matches the CLI.
static const char *crunlite_value_flags[] = {
	"--root", "--runroot", "--storage-driver", "--storage-opt", "--log-level", NULL,
};

static void join_fail(const char *what, int err)
{
	snprintf(crunlite_join_error, sizeof(crunlite_join_error), "%s: %s", what, strerror(err));
}

static int is_value_flag(const char *a)
{
	for (const char **f = crunlite_value_flags; *f; f++)
		if (strcmp(a, *f) == 0)
			return 1;
	return 0;
}

// What the lean crun-lite (cmd/crun-lite/lean.go) runs itself: a command
// and whether with --help or -h too. It hands every other command line to
// crun-lite-full, whose help knows every command for "see also" and
// completion hints. cmd/crun-lite tests that these are the lean build's
// commands.
static const struct {
	const char *command;
	int help;
} crunlite_lean_commands[] = {
	{"run", 0},
	{"create", 0},
	{"start", 0},
	{"restart", 0},
	{"exec", 0},
	{"stop", 0},
	{"kill", 0},
	{"wait", 0},
	{"attach", 0},
	{"ps", 0},
	{NULL, 0},
};

struct crunlite_cmdline crunlite_cmdline;

// crunlite_parse_cmdline finds the command: the first non-option argument,
// skipping the values of global options, or the one after --; for
// `container`, its subcommand; and whether help was asked.
void crunlite_parse_cmdline(int argc, char **argv, struct crunlite_cmdline *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 1; i < argc && !out->command; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			if (i + 1 < argc)
				out->command = i + 1;
			break;
		}
		if (a[0] != '-')
			out->command = i;
		else if (strchr(a, '=') == NULL && is_value_flag(a))
			i++;
	}
	if (out->command && strcmp(argv[out->command], "container") == 0)
		for (int i = out->command + 1; i < argc && !out->sub; i++)
			if (argv[i][0] != '-')
				out->sub = i;
	// run's and create's -h after the image is the container command's.
	int end = argc, c = out->command;
	if (c && strcmp(argv[c], "container") == 0)
		c = out->sub;
	if (c && (strcmp(argv[c], "run") == 0 || strcmp(argv[c], "create") == 0))
		end = crunlite_run_image_arg(argc, argv, c);
	for (int i = 1; i < end && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			out->help = 1;
			break;
		}
	for (int i = 0; out->command && crunlite_lean_commands[i].command; i++)
		if (strcmp(argv[out->command], crunlite_lean_commands[i].command) == 0)
			out->lean = !out->help || crunlite_lean_commands[i].help;
}

// Commands that must see the host as it is, not from inside the namespace.
static int wants_namespace(char **argv)
{
	return !crunlite_cmdline.command || strcmp(argv[crunlite_cmdline.command], "doctor") != 0;
}

// Commands that start processes in a container: they must run from a copy
// of the binary the container cannot change (exeseal.c). "container run"
// counts as run. A command missing here cannot start one: userns.ExeSafe
// refuses.
static const char *crunlite_spawn_commands[] = {"run", "exec", "start", "restart", NULL};

static int is_spawn_command(char **argv)
{
	int i = crunlite_cmdline.command;
	if (i && strcmp(argv[i], "container") == 0)
		i = crunlite_cmdline.sub;
	for (const char **c = crunlite_spawn_commands; i && *c; c++)
		if (strcmp(argv[i], *c) == 0)
			return 1;
	return 0;
}

// refuse_setid: crun-lite is never installed set-user-id or set-group-id.
// It runs what its caller names (images, commands, crun-lite-full beside
// it), so such a bit would hand the owner's ids to every local user.
static void refuse_setid(void)
{
	if (getuid() == geteuid() && getgid() == getegid())
		return;
	fprintf(stderr, "crun-lite: refusing to run set-user-id or set-group-id "
			"(real uid %d gid %d, effective uid %d gid %d): remove the bit with chmod u-s,g-s on the binary\n",
		(int)getuid(), (int)getgid(), (int)geteuid(), (int)getegid());
	_exit(125);
}

// Go test binaries link this file too (the tests of userns, run and
// cmd/crun-lite): they must not join the user's holder, or unit tests would
// run as root in whatever namespace a crun-lite of the user left alive.
// go test starts them with its -test.* flags first, which no crun-lite
// command line has (crun-lite would refuse such a flag).
static int is_go_test(int argc, char **argv)
{
	return argc > 1 && strncmp(argv[1], "-test.", 6) == 0;
}

// crunlite_pidfile_path: in the runtime dir, $XDG_RUNTIME_DIR/crun-lite when
// XDG_RUNTIME_DIR is a directory owned by the caller (as seen from its user
// namespace, so it also holds after joining), else /tmp/crun-lite-UID.
int crunlite_pidfile_path(char *buf, size_t len, int host_uid)
{
	const char *x = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int n;
	if (x && *x && stat(x, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid())
		n = snprintf(buf, len, "%s/crun-lite/userns.pid", x);
	else
		n = snprintf(buf, len, "/tmp/crun-lite-%d/userns.pid", host_uid);
	return n;
}

// crunlite_proc_starttime reads field 22 of /proc/PID/stat: together with the pid it
// names one process for the life of the system.
unsigned long long crunlite_proc_starttime(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')'); // comm may contain spaces
	if (!p)
		return 0;
	p++; // the space before field 3
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

static void join_holder(void)
{
	char path[4096], buf[64], cwd[4096];
	struct stat st;

	// Called on the host only (euid not 0): getuid() is the host uid.
	int plen = crunlite_pidfile_path(path, sizeof(path), (int)getuid());
	if (plen < 0 || (size_t)plen >= sizeof(path))
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return; // no holder yet: Go creates one when the command needs it
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && st.st_uid == getuid())
		n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	int pid = 0;
	unsigned long long start = 0;
	if (sscanf(buf, "%d %llu", &pid, &start) != 2 || pid <= 0)
		return;

	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return; // holder gone: Go recreates it
	// The pidfd pins the process; checking the start time after opening it
	// rules out a recycled pid.
	if (crunlite_proc_starttime(pid) != start) {
		close(pidfd);
		return;
	}
	// setns into a mount namespace moves the cwd to its root: keep the
	// user's cwd so relative paths on the command line still work.
	int have_cwd = getcwd(cwd, sizeof(cwd)) != NULL;
	if (setns(pidfd, CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		// ESRCH: the holder died and is a zombie nobody reaped yet; Go
		// makes a new one.
		if (errno != ESRCH)
			join_fail("setns into the user namespace holder", errno);
		close(pidfd);
		return;
	}
	close(pidfd);
	if (have_cwd && chdir(cwd) < 0)
		(void)chdir("/");
	crunlite_joined = 1;
	// The environment variables that tell containers/storage and
	// containers/image we are rootless are set by join.go's init: the Go
	// runtime reads the environment from the initial stack, so a setenv
	// here would not reach it.
}

// holder_main is the whole life of the namespace holder: it owns the user and
// mount namespaces and sleeps; it never starts the Go runtime, so it costs a
// few hundred KiB of memory.
static void holder_main(void)
{
	prctl(PR_SET_NAME, "crun-lite-ns", 0, 0, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	if (chdir("/") < 0)
		_exit(1);
	for (;;)
		pause();
}

__attribute__((constructor)) static void crunlite_nsjoin(int argc, char **argv, char **envp)
{
	(void)envp;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	crunlite_ctor_ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	const char *role = getenv("_CRUNLITE_ROLE");

	refuse_setid();
	if (role && strcmp(role, "holder") == 0)
		holder_main();
	if (role && strcmp(role, "monitor") == 0 && crunlite_monitor_main)
		crunlite_monitor_main(argc, argv);

	crunlite_host_uid = getuid();
	crunlite_host_gid = getgid();
	// Also for go test binaries and re-exec roles, so that Go always finds
	// the command line read.
	if (argc > 0)
		crunlite_parse_cmdline(argc, argv, &crunlite_cmdline);
	if (argc > 0 && is_go_test(argc, argv)) {
		crunlite_exe_state = CRUNLITE_EXE_TEST;
		return;
	}
	if (role || argc < 1)
		return; // a re-exec role
	int spawns = is_spawn_command(argv);
	// Whether the user can change the binary is a question about the host
	// user: ask it before joining, where the answer would be root's.
	int host_safe = spawns && crunlite_exe_host_safe();
	if (geteuid() != 0 && wants_namespace(argv))
		join_holder();
	// Forking for -d where the process will not re-execute to join: a
	// first pass without a holder leaves it to the pass Go re-executes.
	if (crunlite_joined || geteuid() == 0)
		crunlite_detach(argc, argv);
	// Rootless and not joined: Go creates the holder and re-executes, and
	// this runs again inside. Real root, or already inside: protect now.
	// start -a's attacher (the waiter, detach.c) starts no container.
	if (spawns && crunlite_attach_fd < 0 && (crunlite_joined || geteuid() == 0))
		crunlite_protect_exe(argv, host_safe);
}

const char *crunlite_value_flag(int i)
{
	return crunlite_value_flags[i];
}

const char *crunlite_lean_command(int i)
{
	return crunlite_lean_commands[i].command;
}
