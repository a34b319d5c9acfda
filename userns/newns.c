// A user namespace of the caller's own making, for --userns=keep-id
// (keepid.go): a child is cloned into it, waits while its maps are
// written from here, and exits once the namespace is open. The child
// shares our memory (CLONE_VM: no page tables copied) and runs only
// child_wait, with every signal blocked, on a stack of its own.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>

#define NEWNS_STACK (64 * 1024)

static int child_wait(void *arg)
{
	int *p = arg;
	char c;
	// The child has a copy of our fd table (no CLONE_FILES): without
	// closing its own write end the read below never ends.
	close(p[1]);
	// Returns at end of file: the parent closed its end.
	while (read(p[0], &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

static int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = strlen(data);
	ssize_t w = write(fd, data, n);
	int err = w < 0 ? errno : ((size_t)w == n ? 0 : EIO);
	close(fd);
	return -err;
}

// crunlite_new_userns returns an fd of a new user namespace with the given
// uid_map and gid_map contents, or -errno; *what names the failed step.
int crunlite_new_userns(const char *uid_map, const char *gid_map, const char **what)
{
	int p[2];
	*what = "pipe";
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	char *stack = mmap(NULL, NEWNS_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		int err = errno;
		close(p[0]);
		close(p[1]);
		return -err;
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = clone(child_wait, stack + NEWNS_STACK, CLONE_VM | CLONE_NEWUSER | SIGCHLD, p);
	int ret = pid < 0 ? -errno : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	*what = "clone";
	if (ret == 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
		*what = "write uid_map";
		ret = write_file(path, uid_map);
		if (ret == 0) {
			snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
			*what = "write gid_map";
			ret = write_file(path, gid_map);
		}
		if (ret == 0) {
			snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
			*what = "open the namespace";
			ret = open(path, O_RDONLY | O_CLOEXEC);
			if (ret < 0)
				ret = -errno;
		}
	}
	close(p[1]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	close(p[0]);
	munmap(stack, NEWNS_STACK);
	return ret;
}
