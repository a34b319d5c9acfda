// Keeping the container away from the crun-lite binary (CVE-2019-5736 class).
//
// The container's first process is cloned from crun-lite and, for --init,
// stays a copy of it; every one of them has crun-lite's binary as
// /proc/self/exe until it execs, and an image whose command is
// /proc/self/exe (or a #!/proc/self/exe script) makes the exec itself run
// crun-lite again inside the container, with the image's dynamic loader and
// LD_PRELOAD. Through that link the container reaches the host file: when it
// belongs to the user (a build tree, make install PREFIX=~/.local) container
// root is its owner and can chmod it setuid, set xattrs on it, or, once it is
// no longer busy, write it.
//
// The fix is to run, before anything enters a container, from a copy of the
// binary that cannot be changed: the constructor re-executes the process from
// a detached, read-only, nosuid, unbindable bind mount of /proc/self/exe
// (open_tree + mount_setattr + execveat, no file or mount point anywhere).
// Every process that enters a container then has that mount as its
// /proc/self/exe: chmod, chown, xattrs and writes fail with EROFS, and the
// mount is in no namespace, so it can be neither remounted nor copied. Where
// the mount API is refused (a seccomp filter of an outer container), a
// sealed memfd copy is the fallback (runc's), at the cost of copying the
// binary. Measured costs are in userns/doc.go.
//
// No copy is needed when the kernel already refuses every change: the
// binary is on a read-only mount or a sealed memfd (the re-executed process
// itself), or, rootless, it belongs to real root and the user cannot write
// it (sudo make install): root is not mapped in the user namespace, so
// container root holds no capability over it.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsjoin.h"

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_execveat
#define SYS_execveat 322
#endif

int crunlite_exe_state = CRUNLITE_EXE_UNCHECKED;
char crunlite_exe_error[256];

extern char **environ;

static void exe_fail(const char *what, int err)
{
	crunlite_exe_state = CRUNLITE_EXE_UNSAFE;
	snprintf(crunlite_exe_error, sizeof(crunlite_exe_error), "%s: %s", what, strerror(err));
}

// sealed_or_readonly: fd (the binary) cannot be written or have its inode
// changed through the path it was opened by.
static int sealed_or_readonly(int fd)
{
	struct statvfs sv;
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && (seals & F_SEAL_WRITE))
		return 1;
	return fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

int crunlite_exe_host_safe(void)
{
	struct stat st;
	// Rootless only: as real root, container root is real root too.
	if (getuid() == 0 || stat("/proc/self/exe", &st) < 0)
		return 0;
	return st.st_uid == 0 && access("/proc/self/exe", W_OK) < 0;
}

// reexec_readonly execs the binary open as fd from a detached read-only bind
// mount of it. open_tree copies only mounts of the caller's mount namespace,
// and a rootless process joined the holder's after it was started: the
// mount is made of the binary's path as this namespace sees it, and used
// only if it is the same file.
static int reexec_readonly(int fd, const char *path, char **argv)
{
	struct stat want, got;
	int mfd = syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (mfd < 0)
		return -1;
	if (fstat(fd, &want) < 0 || fstat(mfd, &got) < 0 || want.st_dev != got.st_dev || want.st_ino != got.st_ino) {
		close(mfd);
		errno = ESTALE; // the path names another file now
		return -1;
	}
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
		.propagation = MS_UNBINDABLE,
	};
	if (syscall(SYS_mount_setattr, mfd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) == 0)
		syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
	int err = errno;
	close(mfd);
	errno = err;
	return -1;
}

// reexec_memfd execs a sealed in-memory copy of the binary open as fd.
static int reexec_memfd(int fd, char **argv)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	int mfd = memfd_create("crun-lite", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -1;
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, fd, &off, st.st_size - off);
		if (n <= 0)
			goto fail;
	}
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		goto fail;
	syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
fail:;
	int err = errno;
	close(mfd);
	errno = err;
	return -1;
}

void crunlite_protect_exe(char **argv, int host_safe)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		exe_fail("open /proc/self/exe", errno);
		return;
	}
	if (host_safe || sealed_or_readonly(fd)) {
		close(fd);
		crunlite_exe_state = CRUNLITE_EXE_SAFE;
		return;
	}
	// The re-executed process finds crun-lite-full beside the binary it
	// was started as: the read-only mount's path is "/". Go trusts this
	// only if it names the very file that runs (userns.Executable).
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	int err = ENOENT;
	if (n > 0) {
		path[n] = 0;
		setenv(CRUNLITE_EXE_ENV, path, 1);
		reexec_readonly(fd, path, argv);
		err = errno;
	}
	reexec_memfd(fd, argv);
	close(fd);
	snprintf(crunlite_exe_error, sizeof(crunlite_exe_error),
		 "re-execute from a read-only copy of the binary: %s; from a sealed memfd: %s",
		 strerror(err), strerror(errno));
	crunlite_exe_state = CRUNLITE_EXE_UNSAFE;
}
