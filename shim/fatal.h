/* fatal.h - written pages reach their files when a signal ends the process.
 *
 * The kernel's page cache outlives a process that dies of a signal, so what
 * it wrote through a shared mapping is in the file. pageshim's written pages
 * are the process's own memory: they would die with it. So while writable
 * shared mappings are managed, every signal whose default action ends the
 * process and which the program left at SIG_DFL gets pageshim's handler. It
 * writes the dirty pages back (async-signal-safe, writeback.h), restores
 * SIG_DFL and lets the signal do what it would have done: a fault caused by
 * an instruction (SIGSEGV, SIGBUS, SIGILL, SIGFPE from the CPU) happens
 * again when the handler returns; any other signal (SIGTRAP too) is queued
 * again to the thread, with its siginfo, and ends the process as before.
 *
 * The program still sees SIG_DFL when it asks (sigaction, signal);
 * installing its own handler or SIG_IGN removes pageshim's, and setting
 * SIG_DFL again puts it back. SIGKILL cannot be caught: what was not written
 * back is lost (README). */
#ifndef PAGESHIM_FATAL_H
#define PAGESHIM_FATAL_H

#include <signal.h>

/* Take the fatal signals the program leaves at SIG_DFL (idempotent). */
void ps_fatal_arm(void);
/* Keep sig whatever the program sets (PAGESHIM_SIGBUS_REPORT=all, for
 * SIGBUS): pageshim's handler stays in, reports (sigbus.h), then runs what
 * the program set as the kernel would, its mask, SA_NODEFER and
 * SA_RESETHAND included; sigaction shows the program what it set. */
void ps_fatal_keep(int sig);
/* sigaction and signal as the program sees them. */
int ps_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

#endif
