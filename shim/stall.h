/* stall.h - stall sites: which code waited for pageshim's faults.
 *
 * Under the kernel's mmap a thread waiting for a page just sleeps. pageshim
 * serves the fault, so it knows how long the thread has waited by the time
 * the page is read; when that is PAGESHIM_SLOW_US or more, or the fault is
 * one in PAGESHIM_STACK_SAMPLE, the handler asks the faulting thread (named
 * by UFFD_FEATURE_THREAD_ID) for its stack before installing the page: the
 * internal signal (sigbus.h) interrupts the fault, and its handler, in that
 * thread, walks the stack with libunwind (instruction addresses only) and
 * adds the wait to the site of that exact stack. The access then runs again
 * and finds its page.
 *
 * Sites are kept in a fixed table (aggregated without locks, from signal
 * handlers) and named only when written out: the stats file's
 * "stall_sites", most total waiting first, each with its count, total and
 * longest wait, the file and range of offsets, and the stack as
 * "function+0xoff (object)". Only the thread's own wait for its own fill is
 * measured: a fault that waits for a read-ahead already under way, or that
 * the kernel served from a poison marker, is not a site. */
#ifndef PAGESHIM_STALL_H
#define PAGESHIM_STALL_H

#include <stddef.h>
#include <stdint.h>

/* From a handler thread, before installing the page thread `tid` faulted
 * on at file offset `off` of `path` (which outlives the fault): the thread
 * has waited `ns`. */
void ps_stall_seen(uint32_t tid, const char *path, uint64_t off, uint64_t ns);

/* In thread tid, from the internal signal's handler (uc its ucontext): take
 * the stack if a request for this thread is pending. 1 if one was. */
int ps_stall_capture(uint32_t tid, void *uc);

/* The top sites, named, for the live view (live.h); how many. */
struct pageshim_live_site;
unsigned ps_stall_live(struct pageshim_live_site *out, unsigned max);

/* The stall sites as a JSON member (",\n  \"stall_sites\": [...]") in
 * buf; bytes written, or 0 when they do not fit. */
size_t ps_stall_json(char *buf, size_t len);

#endif
