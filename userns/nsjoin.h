#ifndef CRUNLITE_NSJOIN_H
#define CRUNLITE_NSJOIN_H

#include <stddef.h>

extern int crunlite_joined;
extern long long crunlite_ctor_ns;
extern int crunlite_host_uid;
extern int crunlite_host_gid;
extern char crunlite_join_error[256];
const char *crunlite_value_flag(int i);
unsigned long long crunlite_proc_starttime(int pid);

// The command line as the constructor reads it, the one parse of argv that
// decides which command runs before urfave/cli sees it: whether to join the
// namespace (not for doctor), whether to protect the binary (a command that
// starts a container), and whether the lean crun-lite runs the command line
// itself or hands it to crun-lite-full. Indexes are into argv (os.Args), 0
// for none.
struct crunlite_cmdline {
	int command; // the first argument that is not a global option or its value
	int sub;     // of `container X`: X, the first argument after it not starting with '-'
	int help;    // --help or -h is an argument before any --
	int lean;    // the lean crun-lite runs it itself (crunlite_lean_commands)
	int single;  // --userns=single: among the global options, or run's or create's (see crunlite_run_userns_single)
};
extern struct crunlite_cmdline crunlite_cmdline;
void crunlite_parse_cmdline(int argc, char **argv, struct crunlite_cmdline *out);
const char *crunlite_lean_command(int i);

// crunlite_pidfile_path writes the path of the namespace holder's pid file
// for host_uid to buf and returns its length, as snprintf does: when that is
// len or more, buf holds only part of it. The one rule for the path, the
// constructor's and userns.PidFile's.
int crunlite_pidfile_path(char *buf, size_t len, int host_uid);
// crunlite_single_pidfile_path is the same for the holder of the single-id
// namespace (userns/single.go), beside the other: userns.single.pid.
int crunlite_single_pidfile_path(char *buf, size_t len, int host_uid);

// The namespace the constructor joined: 0 none, 1 the holder of userns.pid
// (full or single-id, as it was made), 2 that of userns.single.pid.
extern int crunlite_joined_holder;
// Whether the joined namespace maps one uid only: the single-id mode.
extern int crunlite_joined_single;

// What the constructor found of the binary a container could reach
// (exeseal.c); Go refuses to start a container unless it is SAFE or TEST.
enum {
	CRUNLITE_EXE_UNCHECKED = 0, // a command that starts no container
	CRUNLITE_EXE_SAFE = 1,      // the container cannot change the binary
	CRUNLITE_EXE_UNSAFE = 2,    // it could: crunlite_exe_error says why
	CRUNLITE_EXE_TEST = 3,      // a Go test binary: not checked
};
#define CRUNLITE_EXE_ENV "_CRUNLITE_EXE"
extern int crunlite_exe_state;
extern char crunlite_exe_error[256];
int crunlite_exe_host_safe(void);
void crunlite_protect_exe(char **argv, int host_safe);

// Detaching run -d from its shell (detach.c): the pipe to the waiting
// parent, -1 when the command does not detach.
#define CRUNLITE_DETACH_ENV "_CRUNLITE_DETACH_FD"
extern int crunlite_detach_fd;
// start -a: the waiting parent gets a connection to the started container's
// attach socket and goes on into Go with it, as the attacher (-1: not one).
#define CRUNLITE_ATTACH_ENV "_CRUNLITE_ATTACH_FD"
extern int crunlite_attach_fd;
#define CRUNLITE_ATTACH_ID_ENV "_CRUNLITE_ATTACH_ID"
extern char crunlite_attach_id[72];
void crunlite_detach(int argc, char **argv);
int crunlite_wants_detach(int argc, char **argv, const struct crunlite_cmdline *cl);
int crunlite_run_image_arg(int argc, char **argv, int i);
const char *crunlite_run_value_flag(int i);
const char *crunlite_exec_value_flag(int i);
const char *crunlite_exec_short_values(void);
const char *crunlite_run_short_values(void);
// crunlite_run_userns_single: argv[i] is run or create; its options
// (before the image) hold --userns=single or --userns single.
int crunlite_run_userns_single(int argc, char **argv, int i);

// The monitor role of a detached container (run/monitor/monitor.c), linked
// into binaries that run containers; the constructor calls it for
// _CRUNLITE_ROLE=monitor. It never returns.
extern void crunlite_monitor_main(int argc, char **argv) __attribute__((weak));

#endif
