// probe makes system calls inside a container and prints, per call named on
// its command line, "name errno" (0 when the call succeeded), so that tests
// can tell a seccomp denial from the kernel's own answer: each call is made
// with arguments the kernel rejects with something other than EPERM (or
// accepts) before it looks at privileges, so EPERM can only come from a
// filter. Built with gcc -static by the tests: it runs in any image.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/netlink.h>

// A call returns -1 and sets errno on failure; the result is its errno.
static int res(long r) { return r < 0 ? errno : 0; }

// KEYCTL_GET_KEYRING_ID of the session keyring (-3): succeeds when allowed.
static int p_keyctl(void) { return res(syscall(SYS_keyctl, 0, -3, 0)); }

// A key that does not exist: ENOKEY when allowed.
static int p_request_key(void)
{
	return res(syscall(SYS_request_key, "user", "crun-lite-probe", NULL, 0));
}

// A key type that does not exist: ENODEV when allowed.
static int p_add_key(void)
{
	return res(syscall(SYS_add_key, "no-such-type", "d", NULL, 0, -2));
}

// A NULL attribute: EFAULT when allowed.
static int p_perf_event_open(void) { return res(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0)); }

// A command that does not exist: EINVAL when allowed (kernels before 6.5
// answer EPERM to anyone without CAP_BPF while unprivileged BPF is off).
static int p_bpf(void)
{
	char attr[128];
	memset(attr, 0, sizeof(attr));
	return res(syscall(SYS_bpf, 0x7fff, attr, sizeof(attr)));
}

// Too many segments and an unknown architecture: EINVAL once permitted,
// ENOSYS without kexec in the kernel; EPERM without CAP_SYS_BOOT over the
// host, so it tells the filter apart only as real root. Nothing is loaded
// or unloaded: the arguments are refused before anything is done.
static int p_kexec_load(void) { return res(syscall(SYS_kexec_load, 0, 17, NULL, 0x7fff0000UL)); }

// No such mount fd: EBADF when allowed (kernels before 6.10 check
// CAP_DAC_READ_SEARCH first and answer EPERM).
static int p_open_by_handle_at(void)
{
	char handle[64];
	memset(handle, 0, sizeof(handle));
	return res(syscall(SYS_open_by_handle_at, -1, handle, O_RDONLY));
}

// UFFD_USER_MODE_ONLY: anyone may, since Linux 5.11.
static int p_userfaultfd(void)
{
	long fd = syscall(SYS_userfaultfd, 1 | O_CLOEXEC);
	return res(fd);
}

// A file system type at an unreadable address: EFAULT, the kernel copies the
// arguments before it checks CAP_SYS_ADMIN.
static int p_mount(void) { return res(mount("none", "/", (const char *)1, 0, NULL)); }

// A real tmpfs mount: needs CAP_SYS_ADMIN in the container's namespaces.
static int p_mount_tmpfs(void)
{
	mkdir("/tmp/probe-mnt", 0755);
	return res(mount("tmpfs", "/tmp/probe-mnt", "tmpfs", 0, NULL));
}

// A new user namespace: allowed for anyone without a filter.
static int p_unshare_user(void) { return res(unshare(CLONE_NEWUSER)); }

// An audit netlink socket: Podman's profile answers EINVAL without
// CAP_AUDIT_WRITE, the kernel makes one.
static int p_socket_audit(void) { return res(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT)); }

// A plain call every profile allows.
static int p_getpid(void) { return res(syscall(SYS_getpid)); }

static int p_mkdir(void) { return res(mkdir("/tmp/probe-dir", 0755)); }

static const struct {
	const char *name;
	int (*call)(void);
} calls[] = {
	{"keyctl", p_keyctl},
	{"request_key", p_request_key},
	{"add_key", p_add_key},
	{"perf_event_open", p_perf_event_open},
	{"bpf", p_bpf},
	{"kexec_load", p_kexec_load},
	{"open_by_handle_at", p_open_by_handle_at},
	{"userfaultfd", p_userfaultfd},
	{"mount", p_mount},
	{"mount-tmpfs", p_mount_tmpfs},
	{"unshare-user", p_unshare_user},
	{"socket-audit", p_socket_audit},
	{"getpid", p_getpid},
	{"mkdir", p_mkdir},
};

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		size_t j;
		for (j = 0; j < sizeof(calls) / sizeof(calls[0]); j++)
			if (strcmp(argv[i], calls[j].name) == 0)
				break;
		if (j == sizeof(calls) / sizeof(calls[0])) {
			printf("%s unknown\n", argv[i]);
			continue;
		}
		errno = 0;
		printf("%s %d\n", argv[i], calls[j].call());
	}
	return 0;
}
