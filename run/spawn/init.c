// The container's init for --init: pid 1 of the container's pid namespace, a
// fork of the container's first process (start_init in spawn.c) that forwards
// every signal it gets to the command, reaps the orphans the kernel hands to
// pid 1, and exits as the command did (128+N for death by signal N).
//
// The kernel drops signals that have no handler when they are sent to a pid
// namespace's init (pid_namespaces(7)), which is why `sleep` as pid 1 ignores
// SIGTERM; blocked signals are queued regardless, so init blocks them all and
// takes them with sigwaitinfo.

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

// The arguments crun-lite was started with: init overwrites them so that
// the container's ps shows "init", not the host paths in our command line.
static char *args_start;
static size_t args_len;

__attribute__((constructor)) static void crunlite_init_save_args(int argc, char **argv, char **envp)
{
	(void)envp;
	if (argc < 1)
		return;
	args_start = argv[0];
	args_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) - argv[0]);
}

void crunlite_init_hide_args(void)
{
	if (args_start && args_len >= 4) {
		memset(args_start, 0, args_len);
		memcpy(args_start, "init", 4);
	}
}

void crunlite_init_main(int child)
{
	prctl(PR_SET_NAME, "init", 0, 0, 0);
	// Not dumpable: the container cannot ptrace its init or read its
	// memory, a copy of the monitor's.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	sigset_t all;
	sigfillset(&all);
	for (;;) {
		int status;
		pid_t p;
		while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
			if (p != child)
				continue;
			if (WIFSIGNALED(status))
				_exit(128 + WTERMSIG(status));
			_exit(WEXITSTATUS(status));
		}
		if (p < 0 && errno == ECHILD)
			_exit(125); // the command vanished without a status
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig > 0 && sig != SIGCHLD)
			kill(child, sig);
	}
}
