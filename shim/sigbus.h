/* sigbus.h - delivering SIGBUS for a managed page as the kernel would.
 *
 * The kernel raises SIGBUS (BUS_ADRERR, si_addr = the touched byte) in the
 * faulting thread when a file page cannot be had (past end of file, I/O
 * error), and when the access came from the kernel itself (a syscall
 * reading the mapping) the syscall fails with EFAULT instead.
 *
 * A handler thread cannot forge that siginfo for another thread (the kernel
 * refuses si_code >= 0 unless a thread signals itself), so:
 *  - user-mode fault (/proc/self/task/TID/syscall reads -1): the handler
 *    queues pageshim's internal signal to the faulting thread; it interrupts
 *    the fault, and its handler, running in that thread, queues SIGBUS with
 *    BUS_ADRERR to itself. SIGBUS is blocked inside that handler, so it is
 *    delivered on return with the faulting instruction's context. A SIGBUS
 *    that is blocked or ignored is reset and unblocked first, as the
 *    kernel's force_sig does.
 *  - kernel-mode fault, or a thread that blocks the internal signal: the
 *    page gets a poison marker (UFFDIO_POISON): the syscall gets EFAULT, a
 *    user access SIGBUS (BUS_MCEERR_AR). The marker stays until the page is
 *    refreshed, dropped or unmapped. */
#ifndef PAGESHIM_SIGBUS_H
#define PAGESHIM_SIGBUS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct ps_region;

/* Install the internal signal's handler. 0 or -errno. */
int ps_sigbus_init(void);

/* Make thread `tid`, faulting at `addr` on `page` of `r`, see SIGBUS.
 * `why` and `err` are for the message. Caller holds ps_regions_lock and
 * owns the page (PG_FILLING). Returns 1 when a poison marker now stands in
 * for the page (its word is PG_POISON), 0 when the caller still owns it. */
int ps_sigbus_raise(struct ps_region *r, size_t page, uintptr_t addr, uint32_t tid,
		     const char *why, int err);

/* The internal signal, for other uses (stall.h): can it reach thread tid,
 * stopped in a fault in user mode (it reads /proc/self/task/TID)? Then
 * queue it (0 or -errno); its handler asks ps_stall_capture. */
int ps_internal_signal_usable(uint32_t tid);
int ps_internal_signal(uint32_t tid);

/* Is si the SIGBUS pageshim queued to this thread (reported already, and
 * its page would only fault again)? Called once per SIGBUS delivered. */
int ps_sigbus_queued_here(const siginfo_t *si);

/* PAGESHIM_SIGBUS_REPORT=all: called in the thread that got SIGBUS (si,
 * its ucontext), before the program's handler or death: a fault in a file
 * mapping the kernel serves gets the same one-line report, its stack too. */
void ps_sigbus_report_foreign(const siginfo_t *si, void *uc);

#endif
