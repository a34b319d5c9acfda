// sigcount counts the SIGINTs it receives, one line per delivery
// ("INT N from pid P", P 0 for the kernel, e.g. the terminal's Ctrl-C), and
// on SIGUSR1 prints "total N" and exits 0. A shell's trap cannot count: it
// runs once for signals that arrive close together. Built static by the
// integration tests.
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t count;

static void put(const char *s) { write(1, s, strlen(s)); }

static void on_int(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	char buf[64];
	count++;
	// snprintf is not async-signal-safe in general, but this process only
	// pauses, and its handlers block each other.
	snprintf(buf, sizeof(buf), "INT %d from pid %d\n", (int)count, si->si_code == SI_USER ? (int)si->si_pid : 0);
	put(buf);
}

static void on_usr1(int sig)
{
	(void)sig;
	char buf[32];
	snprintf(buf, sizeof(buf), "total %d\n", (int)count);
	put(buf);
	_exit(0);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_int;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask); // one handler at a time
	sigaction(SIGINT, &sa, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigfillset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	put("ready\n");
	for (;;)
		pause();
}
