// The monitor of a detached container: a role of the crun-lite binary that
// runs from the ELF constructor (userns/nsjoin.c) and never starts the Go
// runtime, so that it costs well under a MiB for the container's whole life.
//
// The crun-lite that started the container execs this role from the thread
// that cloned it: the pid stays, so the container stays our child (and its
// parent-death signal, which follows that thread, stays armed). Go hands
// over, as key=value arguments (monitor.go builds them):
//
//	rundir=DIR  pid=PID  lock=FD  out=FD  err=FD  pty=FD  in=FD  ctl=FD
//	log=FILE  logmax=BYTES  --  CLEANUP ARGV...
//
// out and err (or pty for -t) are the read ends of the container's output,
// which we write to log in the k8s-file format Podman's conmon writes:
//
//	2026-12-07T12:00:00.123456789+00:00 stdout F a whole line
//	2026-12-07T12:00:00.123456789+00:00 stderr P part of a line, more follows
//
// in is the write end of the container's stdin (-i), held open so that the
// command does not read end of file. When the log would grow past logmax
// it is renamed to FILE.1 (replacing the previous one) and a new one begun.
//
// When the container exits we read what is left of its output, write its
// exit code and the time into DIR/exit ("CODE UNIX_NANOSECONDS\n", written
// to a temporary name and renamed: a reader sees all or nothing), drop the
// run dir's lock and exec the cleanup command (crun-lite container cleanup
// ID), which records the exit in the store and undoes the run: what the
// garbage collector does for a dead run, at once. If that exec fails, the
// next crun-lite command's garbage collector does it.
//
// Attach. ctl=FD is a listening SOCK_SEQPACKET socket, bound to DIR/attach
// by Go (monitor.go). Every packet starts with its kind; at most
// MON_CLIENTS clients at once:
//
//	client → monitor                     monitor → client
//	'i' bytes...   to the container's    'o' bytes...   stdout (or the pty)
//	               stdin (pty or pipe)   'e' bytes...   stderr
//	'w' rows cols  window size, two      'x' code       the container exited
//	               big-endian uint16s                   (int32, big-endian);
//	'c'            close the container's                the monitor hangs up
//	               stdin (without -t)
//
// Output goes to every client as it is logged; a client that cannot take
// it (its socket buffer full) is dropped rather than stall the container.
// Clients already waiting when the monitor starts are accepted before it
// reads any output (start -a connects before the monitor runs).
//
// Signals: SIGTERM and SIGINT are passed on to the container; SIGHUP and
// SIGPIPE are ignored (we have no terminal).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct mon_stream {
	int fd;
	const char *name;
	char kind; // MON_STDOUT or MON_STDERR, for attached clients
};

enum {
	MON_CLIENTS = 8,
	// client → monitor
	MON_INPUT = 'i',
	MON_RESIZE = 'w',
	MON_CLOSE_STDIN = 'c',
	// monitor → client
	MON_STDOUT = 'o',
	MON_STDERR = 'e',
	MON_EXIT = 'x',
};

static struct {
	const char *rundir, *log;
	pid_t pid;
	int lock, in, logfd, pty, ctl;
	int clients[MON_CLIENTS];
	long long logmax, logsize;
	struct mon_stream streams[2];
	int nstreams;
	char **cleanup;
} m;

static int arg_int(const char *v) { return (int)strtol(v, NULL, 10); }

static void parse_args(int argc, char **argv)
{
	m.lock = m.in = m.logfd = m.pty = m.ctl = -1;
	for (int i = 0; i < MON_CLIENTS; i++)
		m.clients[i] = -1;
	m.streams[0].fd = m.streams[1].fd = -1;
	int out = -1, err = -1, pty = -1;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			m.cleanup = argv + i + 1;
			break;
		}
		const char *eq = strchr(a, '=');
		if (!eq)
			continue;
		size_t k = (size_t)(eq - a);
		const char *v = eq + 1;
#define KEY(name) (k == sizeof(name) - 1 && strncmp(a, name, k) == 0)
		if (KEY("rundir"))
			m.rundir = v;
		else if (KEY("pid"))
			m.pid = arg_int(v);
		else if (KEY("lock"))
			m.lock = arg_int(v);
		else if (KEY("out"))
			out = arg_int(v);
		else if (KEY("err"))
			err = arg_int(v);
		else if (KEY("pty"))
			pty = arg_int(v);
		else if (KEY("in"))
			m.in = arg_int(v);
		else if (KEY("log"))
			m.log = v;
		else if (KEY("ctl"))
			m.ctl = arg_int(v);
		else if (KEY("logmax"))
			m.logmax = strtoll(v, NULL, 10);
#undef KEY
	}
	m.pty = pty;
	if (pty >= 0)
		m.streams[m.nstreams++] = (struct mon_stream){pty, "stdout", MON_STDOUT};
	if (out >= 0)
		m.streams[m.nstreams++] = (struct mon_stream){out, "stdout", MON_STDOUT};
	if (err >= 0 && m.nstreams < 2)
		m.streams[m.nstreams++] = (struct mon_stream){err, "stderr", MON_STDERR};
}

static void open_log(void)
{
	if (!m.log || !*m.log)
		return;
	m.logfd = open(m.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	m.logsize = (m.logfd >= 0 && fstat(m.logfd, &st) == 0) ? st.st_size : 0;
}

static void rotate_log(void)
{
	char old[4096];
	if (snprintf(old, sizeof(old), "%s.1", m.log) >= (int)sizeof(old))
		return;
	rename(m.log, old);
	close(m.logfd);
	m.logfd = -1;
	open_log();
}

// timestamp writes RFC 3339 with nanoseconds and the local offset as
// +HH:MM, as Podman's logs do; it returns its length.
static int timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	int n = (int)strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	long off = tm.tm_gmtoff;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	n += snprintf(buf + n, len - n, ".%09ld%c%02ld:%02ld", ts.tv_nsec, sign, off / 3600, (off % 3600) / 60);
	return n;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; // a full disk loses log lines, never the container
		p += w;
		n -= (size_t)w;
	}
}

// log_chunk writes what one read returned as k8s-file lines: each whole
// line tagged F, a trailing part without its newline tagged P.
static void log_chunk(const char *stream, const char *data, size_t n)
{
	static char out[2 * 65536 + 4096];
	if (m.logfd < 0)
		return;
	char ts[64];
	int tl = timestamp(ts, sizeof(ts));
	size_t o = 0;
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t line = nl ? (size_t)(nl - data) : n;
		size_t need = (size_t)tl + line + 16;
		// The cap holds line by line: one read may bring many.
		int rotate = m.logmax > 0 && m.logsize + (long long)(o + need) > m.logmax && m.logsize + (long long)o > 0;
		if (o + need > sizeof(out) || rotate) {
			write_all(m.logfd, out, o);
			m.logsize += (long long)o;
			o = 0;
			if (rotate)
				rotate_log();
			if (m.logfd < 0)
				return;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s %s %c ", ts, stream, nl ? 'F' : 'P');
		memcpy(out + o, data, line);
		o += line;
		out[o++] = '\n';
		data += line + (nl ? 1 : 0);
		n -= line + (nl ? 1 : 0);
	}
	write_all(m.logfd, out, o);
	m.logsize += (long long)o;
}

static void drop_client(int i)
{
	close(m.clients[i]);
	m.clients[i] = -1;
}

// broadcast sends one packet to every attached client.
static void broadcast(char kind, const char *data, size_t n)
{
	struct iovec iov[2] = {{&kind, 1}, {(void *)data, n}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	for (int i = 0; i < MON_CLIENTS; i++)
		if (m.clients[i] >= 0 && sendmsg(m.clients[i], &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			drop_client(i);
}

static void accept_client(void)
{
	int fd = accept4(m.ctl, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	int buf = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	for (int i = 0; i < MON_CLIENTS; i++)
		if (m.clients[i] < 0) {
			m.clients[i] = fd;
			return;
		}
	close(fd); // too many
}

// from_client handles one packet of client i.
static void from_client(int i)
{
	static char buf[65536 + 1];
	ssize_t n = recv(m.clients[i], buf, sizeof(buf), 0);
	if (n <= 0) {
		drop_client(i);
		return;
	}
	int stdin_fd = m.pty >= 0 ? m.pty : m.in;
	switch (buf[0]) {
	case MON_INPUT:
		if (stdin_fd >= 0)
			write_all(stdin_fd, buf + 1, (size_t)n - 1);
		break;
	case MON_RESIZE:
		if (m.pty >= 0 && n >= 5) {
			struct winsize ws = {0};
			ws.ws_row = (unsigned short)(((unsigned char)buf[1] << 8) | (unsigned char)buf[2]);
			ws.ws_col = (unsigned short)(((unsigned char)buf[3] << 8) | (unsigned char)buf[4]);
			ioctl(m.pty, TIOCSWINSZ, &ws);
		}
		break;
	case MON_CLOSE_STDIN:
		if (m.pty < 0 && m.in >= 0) {
			close(m.in);
			m.in = -1;
		}
		break;
	}
}

// pump reads once from stream s; it reports false at its end (EOF, or EIO:
// a pty whose every slave is closed).
static int pump(struct mon_stream *s)
{
	static char buf[65536];
	ssize_t n = read(s->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0) {
		close(s->fd);
		s->fd = -1;
		return 0;
	}
	log_chunk(s->name, buf, (size_t)n);
	broadcast(s->kind, buf, (size_t)n);
	return 1;
}

static int open_streams(void)
{
	int n = 0;
	for (int i = 0; i < m.nstreams; i++)
		n += m.streams[i].fd >= 0;
	return n;
}

static void write_exit(int code)
{
	char tmp[4096], path[4096], buf[64];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(tmp, sizeof(tmp), "%s/.exit.tmp", m.rundir);
	snprintf(path, sizeof(path), "%s/exit", m.rundir);
	// Written over the bytes Go reserved in tmp (monitor.ReserveExit),
	// not truncated first: a full disk has no block for a new one, and the
	// exit code is what must not be lost then.
	int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	int n = snprintf(buf, sizeof(buf), "%d %lld\n", code, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	int ok = pwrite(fd, buf, (size_t)n, 0) == n && ftruncate(fd, n) == 0;
	close(fd);
	if (ok)
		rename(tmp, path);
}

void crunlite_monitor_main(int argc, char **argv)
{
	prctl(PR_SET_NAME, "crun-lite-mon", 0, 0, 0);
	parse_args(argc, argv);
	if (!m.rundir || m.pid <= 0)
		_exit(125);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3 && null >= 0; fd++)
		if (null != fd)
			dup2(null, fd);
	if (chdir("/") < 0)
		_exit(125);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	open_log();

	int code = -1;
	struct timespec exited = {0};
	// A container that exited before the exec sent its SIGCHLD to the Go
	// runtime: reap what is already a zombie.
	int first_status;
	if (waitpid(m.pid, &first_status, WNOHANG) == m.pid) {
		code = WIFEXITED(first_status) ? WEXITSTATUS(first_status) : 128 + WTERMSIG(first_status);
		clock_gettime(CLOCK_MONOTONIC, &exited);
	}
	// Clients that connected before we ran (start -a's, which the crun-lite
	// that started the container made for its attacher) are taken before
	// any output is read: they see all of it, and the exit code.
	for (int k = 0; k < MON_CLIENTS && m.ctl >= 0; k++) {
		struct pollfd p = {.fd = m.ctl, .events = POLLIN};
		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
			break;
		accept_client();
	}
	for (;;) {
		struct pollfd pfd[4 + MON_CLIENTS];
		int np = 0;
		pfd[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		for (int i = 0; i < 2; i++)
			pfd[np++] = (struct pollfd){.fd = i < m.nstreams ? m.streams[i].fd : -1, .events = POLLIN};
		pfd[np++] = (struct pollfd){.fd = code < 0 ? m.ctl : -1, .events = POLLIN};
		for (int i = 0; i < MON_CLIENTS; i++)
			pfd[np++] = (struct pollfd){.fd = m.clients[i], .events = POLLIN};
		if (code >= 0 && open_streams() == 0)
			break;
		// After the exit, what is left in the pipes comes at once; a
		// process that escaped the pid namespace's end and holds a pipe
		// must not keep us (and the cleanup) waiting.
		int timeout = -1;
		if (code >= 0) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			long ms = (now.tv_sec - exited.tv_sec) * 1000 + (now.tv_nsec - exited.tv_nsec) / 1000000;
			if (ms >= 1000)
				break;
			timeout = (int)(1000 - ms);
		}
		int r = poll(pfd, (nfds_t)np, timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		for (int i = 0; i < m.nstreams; i++)
			if (pfd[1 + i].revents)
				pump(&m.streams[i]);
		if (pfd[3].revents & POLLIN)
			accept_client();
		for (int i = 0; i < MON_CLIENTS; i++)
			if (pfd[4 + i].revents && m.clients[i] >= 0)
				from_client(i);
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD)
				kill(m.pid, (int)si.ssi_signo);
			int status;
			pid_t w;
			while ((w = waitpid(-1, &status, WNOHANG)) > 0)
				if (w == m.pid) {
					code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
					clock_gettime(CLOCK_MONOTONIC, &exited);
				}
		}
	}
	write_exit(code);
	unsigned char be[4] = {(unsigned char)(code >> 24), (unsigned char)(code >> 16), (unsigned char)(code >> 8), (unsigned char)code};
	broadcast(MON_EXIT, (const char *)be, sizeof(be));
	for (int i = 0; i < MON_CLIENTS; i++)
		if (m.clients[i] >= 0)
			drop_client(i);
	if (m.ctl >= 0)
		close(m.ctl);
	if (m.logfd >= 0)
		close(m.logfd);
	if (m.in >= 0)
		close(m.in);
	if (m.lock >= 0)
		close(m.lock); // the run is the cleanup's (or the next GC's) now
	if (m.cleanup && m.cleanup[0]) {
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		unsetenv("_CRUNLITE_ROLE");
		execv("/proc/self/exe", m.cleanup);
	}
	_exit(0);
}
