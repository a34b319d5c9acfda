// tiocsti tries to push a line, TEXT (its argument) and a newline, into the
// input of every terminal it can reach, the way a hostile container would
// attack the shell that started it: with TIOCSTI on each open fd that is a terminal, and on
// /dev/tty. It prints one line per attempt:
//
//	fd=N tty=own|foreign sti=ok|ERRNO-NAME
//
// "own" is a terminal of the devpts instance mounted on /dev/pts, the
// container's own; "foreign" is any other (the host's). /dev/tty is the
// controlling terminal whatever its device: it counts as own when an own fd
// is that terminal. Fds that are not
// terminals print "fd=N notty". Built static by the integration tests.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static dev_t own_dev;

static const char *errname(int e)
{
	switch (e) {
	case EPERM:
		return "EPERM";
	case EIO:
		return "EIO";
	case ENOTTY:
		return "ENOTTY";
	case EBADF:
		return "EBADF";
	default:
		return strerror(e);
	}
}

static int own(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && st.st_dev == own_dev;
}

// own_ctty tells whether one of fds is our controlling terminal and own:
// tcgetsid answers only on the caller's controlling terminal.
static int own_ctty(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (isatty(fds[i]) && own(fds[i]) && tcgetsid(fds[i]) == getsid(0))
			return 1;
	return 0;
}

static void attack(const char *name, int fd, int is_own, const char *text)
{
	if (!isatty(fd)) {
		printf("fd=%s notty\n", name);
		return;
	}
	const char *where = is_own ? "own" : "foreign";
	int err = 0;
	for (const char *p = text;; p++) {
		const char c = *p ? *p : '\n';
		if (ioctl(fd, TIOCSTI, &c) < 0) {
			err = errno;
			break;
		}
		if (!*p)
			break;
	}
	printf("fd=%s tty=%s sti=%s\n", name, where, err ? errname(err) : "ok");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: tiocsti TEXT\n");
		return 2;
	}
	struct stat st;
	if (stat("/dev/pts/ptmx", &st) == 0)
		own_dev = st.st_dev;
	// Collect the fds first: the directory's own fd is one of them.
	int fds[256], n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		perror("opendir /proc/self/fd");
		return 1;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 256) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd != dirfd(d))
			fds[n++] = fd;
	}
	closedir(d);
	// Lines go out as they are written: stdout may be the terminal under
	// attack, and a line buffered past an injection would mix with it.
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof(name), "%d", fds[i]);
		attack(name, fds[i], own(fds[i]), argv[1]);
	}
	int tty = open("/dev/tty", O_RDWR | O_NOCTTY);
	if (tty < 0) {
		printf("fd=/dev/tty %s\n", errname(errno));
	} else {
		attack("/dev/tty", tty, own_ctty(fds, n), argv[1]);
		close(tty);
	}
	return 0;
}
