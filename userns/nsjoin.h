#ifndef CRUNLITE_NSJOIN_H
#define CRUNLITE_NSJOIN_H

extern int crunlite_joined;
extern long long crunlite_ctor_ns;
extern int crunlite_host_uid;
extern int crunlite_host_gid;
extern char crunlite_join_error[256];
const char *crunlite_value_flag(int i);
unsigned long long crunlite_proc_starttime(int pid);

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

#endif
