// kvmapi opens a KVM device (argv[1], default /dev/kvm) and prints the
// answer to KVM_GET_API_VERSION: "api N" (12 on every kernel since 2.6.22),
// or "open: ERRNO-NAME" and exit 1.
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/kvm";
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("open: %s\n", strerror(errno));
		return 1;
	}
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v < 0) {
		printf("ioctl: %s\n", strerror(errno));
		return 1;
	}
	printf("api %d\n", v);
	return 0;
}
