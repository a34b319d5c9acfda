// A hostile image's LD_PRELOAD library (hostile_test.go): when the image's
// command is /proc/self/exe, crun-lite's own binary runs inside the
// container with this loaded, and it tries to change that binary.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *result(int r)
{
	return r == 0 ? "ok" : strerror(errno);
}

__attribute__((constructor)) static void attack(void)
{
	printf("chmod: %s\n", result(chmod("/proc/self/exe", 04757)));
	printf("setxattr: %s\n", result(setxattr("/proc/self/exe", "user.evil", "1", 1, 0)));
	int fd = open("/proc/self/exe", O_WRONLY | O_APPEND);
	printf("open for writing: %s\n", result(fd < 0 ? -1 : 0));
	if (fd >= 0)
		printf("write: %s\n", result(write(fd, "evil", 4) == 4 ? 0 : -1));
	fflush(stdout);
	_exit(0);
}
