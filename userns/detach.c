// Detaching `run -d` from the shell that started it, before Go starts.
//
// A detached container must be the child of its monitor (which reaps it and
// records its exit) and the monitor must outlive the command the shell waits
// for. Go cannot fork, and re-executing the binary to get a second process
// costs a second Go start (about 5 ms). So the constructor forks here, while
// the process is still small and single-threaded:
//
//	shell ── crun-lite run -d (waiter) ── read(pipe) ─► exit(code)
//	                │ fork
//	                └── child: setsid, Go: prepare, start container,
//	                    print the ID, write the code byte to the pipe,
//	                    then exec the monitor role (same pid: the container
//	                    stays its child)
//
// The waiter passes the signals a user sends to the command (Ctrl-C while a
// pull runs) on to the child. When the child dies before it wrote its code
// (an error, printed by Go), the waiter exits with the child's status.
//
// start -a attaches to the container it starts, and the attacher cannot be
// the process that becomes the monitor. So there the pipe is a socket pair
// and the child sends, with its byte, a connection it made to the monitor's
// attach socket before the monitor runs (no output is missed: the monitor
// accepts it before it reads any); the waiter then returns into Go with
// it, as the attacher (crunlite_attach_fd), instead of exiting:
//
//	shell ── crun-lite start -a (waiter) ── recvmsg(byte, fd) ─► Go: attach
//	                │ fork                                    over fd
//	                └── child: start the container, connect to its attach
//	                    socket, send byte and fd, exec the monitor
//
// A foreground run that keeps its container, or that has -it on our
// terminal, is such a start -a too: its monitor logs the output as a
// detached container's, and the detach keys can leave it running
// (run_mode).
//
// The decision "this command line detaches" is read from argv like the
// command itself (crunlite_parse_cmdline): `run` and `container run` with
// -d or --detach among run's options, before the image; `start` without
// -a or --attach among its options, before the first container (Podman's
// start is detached by default); `restart`, always. The options of run
// that take a value are listed in crunlite_run_value_flags, which a test of
// cmd/crun-lite compares with the CLI; start has none.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsjoin.h"

int crunlite_detach_fd = -1;
int crunlite_attach_fd = -1;
char crunlite_attach_id[72];

// run's options that take a value: long names, and short ones as a string.
static const char *crunlite_run_value_flags[] = {
	"--name", "--user", "--group-add", "--preserve-fds", "--stop-timeout", "--env", "--env-file",
	"--workdir", "--entrypoint", "--hostname", "--volume", "--mount", "--tmpfs", "--userns",
	"--cap-add", "--cap-drop", "--security-opt", "--network", "--net",
	"--log-opt", "--stop-signal", "--cidfile", "--publish", "--expose", "--dns", "--dns-search", "--dns-option",
	"--add-host", "--device", "--cdi-spec-dir", "--share", "--detach-keys", "--pull", "--unsetenv", NULL,
};
static const char crunlite_run_short_value_flags[] = "uevwp";

const char *crunlite_run_value_flag(int i) { return crunlite_run_value_flags[i]; }
const char *crunlite_run_short_values(void) { return crunlite_run_short_value_flags; }

// exec's options that take a value, as run's (a test compares both with
// the CLI).
static const char *crunlite_exec_value_flags[] = {"--user", "--env", "--env-file", "--workdir", "--detach-keys", NULL};
static const char crunlite_exec_short_value_flags[] = "uew";

const char *crunlite_exec_value_flag(int i) { return crunlite_exec_value_flags[i]; }
const char *crunlite_exec_short_values(void) { return crunlite_exec_short_value_flags; }

// A command's options: those that take a value.
struct valued {
	const char **longs;
	const char *shorts;
};
static const struct valued run_opts = {crunlite_run_value_flags, crunlite_run_short_value_flags};
static const struct valued exec_opts = {crunlite_exec_value_flags, crunlite_exec_short_value_flags};

static int is_value_flag(const struct valued *o, const char *a)
{
	for (const char **f = o->longs; *f; f++)
		if (strcmp(a, *f) == 0)
			return 1;
	return 0;
}

static int truthy(const char *v)
{
	return strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "t") == 0 || strcmp(v, "T") == 0 ||
	       strcmp(v, "TRUE") == 0 || strcmp(v, "True") == 0;
}

// is_run_option: a is one of run's options, not the image (nor "-",
// which is none of run's options, nor "--").
static int is_run_option(const char *a) { return a[0] == '-' && a[1] != 0 && strcmp(a, "--") != 0; }

// after_run_option: argv[i] is one of run's options; the index after it
// and its value. Short options combine (-dit); a value flag takes the
// rest of the argument or the next one.
static int after_option(const struct valued *o, char **argv, int i)
{
	const char *a = argv[i];
	if (a[1] == '-')
		return i + 1 + (!strchr(a, '=') && is_value_flag(o, a));
	for (const char *c = a + 1; *c; c++)
		if (strchr(o->shorts, *c))
			return i + 1 + (c[1] == 0);
	return i + 1;
}

static int after_run_option(char **argv, int i) { return after_option(&run_opts, argv, i); }

// crunlite_run_image_arg: argv[i] is run or create; the index of its
// first argument that is no option nor an option's value (the image), or
// argc. What follows it is the container's command, options included.
int crunlite_run_image_arg(int argc, char **argv, int i)
{
	for (i++; i < argc && is_run_option(argv[i]); i = after_run_option(argv, i))
		;
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	return i < argc ? i : argc;
}

// start_attaches: the options of a start command line (argv[i] is
// "start"), those before the first container, ask for -a. Its options are
// flags but --detach-keys, which a test of cmd/crun-lite checks.
static int start_attaches(int argc, char **argv, int i)
{
	int attach = 0;
	for (i++; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0 || a[0] != '-' || a[1] == 0)
			break;
		if (a[1] == '-') {
			if (strcmp(a, "--attach") == 0)
				attach = 1;
			else if (strncmp(a, "--attach=", 9) == 0)
				attach = truthy(a + 9);
			else if (strcmp(a, "--detach-keys") == 0)
				i++; // start's one option with a value
			continue;
		}
		if (strchr(a + 1, 'a')) // combinable: -ai
			attach = 1;
	}
	return attach;
}

// long_bool: a is --NAME or --NAME=VALUE; *v gets its value. 0 when a is
// another option.
static int long_bool(const char *a, const char *name, int *v)
{
	size_t n = strlen(name);
	if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0)
		return 0;
	if (a[2 + n] == 0)
		return *v = 1;
	if (a[2 + n] != '=')
		return 0;
	*v = truthy(a + 3 + n);
	return 1;
}

// run_mode: argv[i] is run (o: run_opts) or exec (exec_opts, which is as
// run --rm: only -it on a terminal goes through a monitor); 1 when its
// options ask for -d; 2 when it runs
// in the foreground through a monitor it attaches to, as start -a does:
// a kept container (no --rm), whose output the monitor logs, or -it on
// our terminal, where the detach keys (unless --detach-keys "") must be
// able to leave it running; 0 for the one-process foreground run.
static int run_mode(int argc, char **argv, int i, const struct valued *o)
{
	int detach = 0, rm = o == &exec_opts, in = 0, tty = 0, keys = 1;
	for (i++; i < argc && is_run_option(argv[i]); i = after_option(o, argv, i)) {
		const char *a = argv[i];
		if (strcmp(a, "--detach-keys") == 0)
			keys = i + 1 < argc && argv[i + 1][0] != 0;
		else if (strncmp(a, "--detach-keys=", 14) == 0)
			keys = a[14] != 0;
		else if (a[1] == '-')
			long_bool(a, "detach", &detach) || long_bool(a, "rm", &rm) ||
			    long_bool(a, "interactive", &in) || long_bool(a, "tty", &tty);
		else // combined short options (-dit), up to one that takes a value
			for (const char *c = a + 1; *c && !strchr(o->shorts, *c); c++) {
				detach |= *c == 'd';
				in |= *c == 'i';
				tty |= *c == 't';
			}
	}
	if (detach)
		return o == &exec_opts ? 0 : 1; // exec -d needs no fork
	return !rm || (in && tty && keys && isatty(0)) ? 2 : 0;
}

// crunlite_wants_detach: argv is a run command line whose options (those
// before the image) ask for -d, a start one, or a restart one: 1, or 2 for
// a start that attaches (-a) and a run that attaches (run_mode), which
// fork too (see above).
int crunlite_wants_detach(int argc, char **argv, const struct crunlite_cmdline *cl)
{
	int i = cl->command;
	if (!i || cl->help)
		return 0;
	if (strcmp(argv[i], "container") == 0)
		i = cl->sub;
	if (i && strcmp(argv[i], "restart") == 0)
		return 1;
	if (i && strcmp(argv[i], "start") == 0)
		return start_attaches(argc, argv, i) ? 2 : 1;
	if (i && strcmp(argv[i], "exec") == 0)
		return run_mode(argc, argv, i, &exec_opts);
	if (!i || strcmp(argv[i], "run") != 0)
		return 0;
	return run_mode(argc, argv, i, &run_opts);
}

// crunlite_run_userns_single: argv[i] is run or create; whether its options
// ask for --userns=single.
int crunlite_run_userns_single(int argc, char **argv, int i)
{
	for (i++; i < argc && is_run_option(argv[i]); i = after_run_option(argv, i)) {
		const char *a = argv[i];
		if (strcmp(a, "--userns=single") == 0 || (strcmp(a, "--userns") == 0 && i + 1 < argc && strcmp(argv[i + 1], "single") == 0))
			return 1;
	}
	return 0;
}

static volatile pid_t detach_child;

static void pass_signal(int sig)
{
	if (detach_child > 0)
		kill(detach_child, sig);
}

// wait_for_child is the waiter's whole life, but for start -a's: it
// returns the connection the child sent, with the signals as they were.
static int wait_for_child(int rfd, int attach)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, 0};
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pass_signal;
	for (const int *s = sigs; *s; s++)
		sigaction(*s, &sa, NULL);
	unsigned char code, buf[1 + sizeof(crunlite_attach_id)];
	ssize_t n;
	int fd = -1;
	do {
		if (!attach) { // a pipe
			n = read(rfd, &code, 1);
			continue;
		}
		// The byte, then the container's ID, with the connection.
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {buf, sizeof(buf) - 1};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
		n = recvmsg(rfd, &msg, 0);
		struct cmsghdr *c = n >= 1 ? CMSG_FIRSTHDR(&msg) : NULL;
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
		if (n >= 1) {
			code = buf[0];
			memcpy(crunlite_attach_id, buf + 1, n - 1);
			crunlite_attach_id[n - 1] = 0;
			n = 1;
		}
	} while (n < 0 && errno == EINTR);
	if (n == 1 && attach && fd >= 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		for (const int *s = sigs; *s; s++)
			sigaction(*s, &sa, NULL);
		close(rfd);
		return fd;
	}
	if (n == 1)
		_exit(code);
	int status;
	while (waitpid(detach_child, &status, 0) < 0)
		if (errno != EINTR)
			_exit(125);
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	_exit(128 + WTERMSIG(status));
}

// crunlite_detach forks when argv asks for -d and this process has not
// forked for it already (a re-execution from the sealed binary keeps the
// environment variable); the parent never returns. Errors leave the command
// in the foreground: Go then refuses the -d it cannot honour.
void crunlite_detach(int argc, char **argv)
{
	const char *inherited = getenv(CRUNLITE_DETACH_ENV);
	if (inherited) {
		crunlite_detach_fd = atoi(inherited);
		return;
	}
	if ((inherited = getenv(CRUNLITE_ATTACH_ENV))) {
		crunlite_attach_fd = atoi(inherited);
		const char *id = getenv(CRUNLITE_ATTACH_ID_ENV);
		snprintf(crunlite_attach_id, sizeof(crunlite_attach_id), "%s", id ? id : "");
		return;
	}
	int mode = crunlite_wants_detach(argc, argv, &crunlite_cmdline);
	if (!mode)
		return;
	int p[2];
	if (mode == 2 ? socketpair(AF_UNIX, SOCK_STREAM, 0, p) < 0 : pipe(p) < 0)
		return;
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid > 0) {
		close(p[1]);
		detach_child = pid;
		int fd = wait_for_child(p[0], mode == 2);
		crunlite_attach_fd = fd;
		char buf[16];
		snprintf(buf, sizeof(buf), "%d", fd);
		setenv(CRUNLITE_ATTACH_ENV, buf, 1); // for a re-execution
		setenv(CRUNLITE_ATTACH_ID_ENV, crunlite_attach_id, 1);
		return;
	}
	close(p[0]);
	setsid();
	crunlite_detach_fd = p[1];
	char buf[16];
	snprintf(buf, sizeof(buf), "%d", p[1]);
	setenv(CRUNLITE_DETACH_ENV, buf, 1);
}
