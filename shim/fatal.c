/* fatal.c - see fatal.h. */
#include "fatal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"
#include "sigbus.h"
#include "writeback.h"

/* Signals whose default action ends the process (signal(7)). */
static const int fatal_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGUSR1, SIGSEGV,
	SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF,
	SIGPWR, SIGSYS,
};

static int owned[_NSIG];        /* pageshim's handler is installed (atomic) */
static int kept[_NSIG];         /* ... and stays, running the program's action */
static struct sigaction shown[_NSIG];   /* what the program set, shown back to it */
static int armed;

static int is_fatal(int sig)
{
	for (size_t i = 0; i < sizeof fatal_signals / sizeof *fatal_signals; i++)
		if (fatal_signals[i] == sig)
			return 1;
	return 0;
}

/* A fault of the instruction the thread is running, which runs again when
 * the handler returns. (Not SIGTRAP: after int3 the instruction pointer has
 * moved on.) */
static int from_instruction(int sig, const siginfo_t *si)
{
	return si->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE);
}

static int is_default(const struct sigaction *sa)
{
	return sa->sa_handler == SIG_DFL && !(sa->sa_flags & SA_SIGINFO);
}

/* Run the program's handler `as` for a kept signal as the kernel would
 * have: with its mask added, sig blocked unless SA_NODEFER, reset first
 * under SA_RESETHAND. Returns 0, or -1 when `as` is the default action (or
 * SIG_IGN for a fault, which the kernel turns into the default). */
static int run_program_action(int sig, siginfo_t *si, void *ucv)
{
	struct sigaction as = shown[sig];
	ucontext_t *uc = ucv;
	if (is_default(&as) || (as.sa_handler == SIG_IGN && from_instruction(sig, si)))
		return -1;
	if (as.sa_handler == SIG_IGN)
		return 0;
	if (as.sa_flags & SA_RESETHAND) {
		memset(&shown[sig], 0, sizeof shown[sig]);
		shown[sig].sa_handler = SIG_DFL;
	}
	sigset_t mask;
	sigorset(&mask, &uc->uc_sigmask, &as.sa_mask);
	if (!(as.sa_flags & SA_NODEFER))
		sigaddset(&mask, sig);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);     /* the return restores uc's */
	if (as.sa_flags & SA_SIGINFO)
		as.sa_sigaction(sig, si, ucv);
	else
		as.sa_handler(sig);
	return 0;
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	/* The access runs again and faults again, unless it was pageshim's own
	 * SIGBUS (reported already): that one is queued again instead. */
	int reexecute = from_instruction(sig, si) && !(sig == SIGBUS && ps_sigbus_queued_here(si));
	if (__atomic_load_n(&kept[sig], __ATOMIC_ACQUIRE)) {
		if (sig == SIGBUS && reexecute)
			ps_sigbus_report_foreign(si, uc);
		int ran = run_program_action(sig, si, uc) == 0;
		errno = saved;
		if (ran)
			return;
	}
	ps_writeback_dying();
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	real.sigaction(sig, &dfl, NULL);
	__atomic_store_n(&owned[sig], 0, __ATOMIC_RELEASE);
	if (!reexecute)
		syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), sig, si);
	errno = saved;
}

/* Put pageshim's handler in for sig, the program seeing `as`. */
static void take(int sig, const struct sigaction *as)
{
	struct sigaction ours;
	memset(&ours, 0, sizeof ours);
	ours.sa_sigaction = on_fatal;
	ours.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;  /* a program's sigaltstack is used */
	sigfillset(&ours.sa_mask);
	shown[sig] = *as;
	if (real.sigaction(sig, &ours, NULL) == 0)
		__atomic_store_n(&owned[sig], 1, __ATOMIC_RELEASE);
}

void ps_fatal_arm(void)
{
	if (__atomic_exchange_n(&armed, 1, __ATOMIC_ACQ_REL))
		return;
	struct sigaction cur;
	for (size_t i = 0; i < sizeof fatal_signals / sizeof *fatal_signals; i++) {
		int sig = fatal_signals[i];
		if (real.sigaction(sig, NULL, &cur) == 0 && is_default(&cur))
			take(sig, &cur);
	}
}

void ps_fatal_keep(int sig)
{
	struct sigaction cur;
	if (real.sigaction(sig, NULL, &cur))
		return;
	__atomic_store_n(&kept[sig], 1, __ATOMIC_RELEASE);
	take(sig, &cur);
}

int ps_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (sig > 0 && sig < _NSIG && __atomic_load_n(&kept[sig], __ATOMIC_ACQUIRE) &&
	    __atomic_load_n(&owned[sig], __ATOMIC_ACQUIRE)) {
		struct sigaction was = shown[sig];
		if (act)
			shown[sig] = *act;
		if (old)
			*old = was;
		return 0;
	}
	if (sig <= 0 || sig >= _NSIG || !is_fatal(sig) || !__atomic_load_n(&armed, __ATOMIC_ACQUIRE))
		return real.sigaction(sig, act, old);
	if (!__atomic_load_n(&owned[sig], __ATOMIC_ACQUIRE)) {
		/* The program's own handler or SIG_IGN is in place. */
		struct sigaction was;
		if (act && is_default(act)) {
			if (real.sigaction(sig, NULL, &was))
				return -1;
			take(sig, act);
		} else if (real.sigaction(sig, act, &was)) {
			return -1;
		}
		if (old)
			*old = was;
		return 0;
	}
	/* pageshim's handler stands in for SIG_DFL. */
	struct sigaction was = shown[sig];
	if (act && !is_default(act)) {
		if (real.sigaction(sig, act, NULL))
			return -1;
		__atomic_store_n(&owned[sig], 0, __ATOMIC_RELEASE);
	} else if (act) {
		shown[sig] = *act;
	}
	if (old)
		*old = was;
	return 0;
}
