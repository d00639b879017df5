/* fill.h - serving one page fault: claim, read, check, install.
 *
 * A missing fault claims its page (PG_EMPTY -> PG_FILLING) and, as the
 * read-around decides, the empty pages after it; reads them with one pread
 * into the handler's staging buffer; checks their checksums; and installs
 * them with one UFFDIO_COPY, which wakes every thread waiting on them. A
 * second fault on a page being filled is dropped: the first fill's copy
 * wakes its thread too. A page that cannot be read raises SIGBUS in the
 * faulting thread (sigbus.h) and wakes the other waiters, who fault again
 * and get their own answer.
 *
 * A write-protect fault (a clean page written for the first time) marks
 * the page dirty and unprotects it: eviction then never drops a private
 * one, and writes a shared one back first (writeback.h). A write fault on a
 * missing page installs that page alone, writable and dirty at once. */
#ifndef PAGESHIM_FILL_H
#define PAGESHIM_FILL_H

#include <linux/userfaultfd.h>
#include <stddef.h>
#include <stdint.h>

struct ps_trace_buf;

struct ps_fill_ctx {
	void *staging;          /* page-aligned, `pages` pages (O_DIRECT reads land here) */
	unsigned pages;
	struct ps_trace_buf *trace;     /* NULL: not tracing (trace.h) */
	/* The fault being served: */
	uint64_t fault_ns;      /* when it was read (ps_now_ns) */
	uint64_t io_ns;         /* time in pread, measured only when tracing */
	uint32_t installed;     /* pages installed */
	int cause;              /* enum pageshim_trace_cause */
};

struct ps_region;

void ps_fault_serve(struct ps_fill_ctx *ctx, const struct uffd_msg *msg);

/* Read the empty pages of [start, start+len) ahead of use (read-ahead,
 * MADV_WILLNEED, MAP_POPULATE): queued to a pool of read-ahead threads,
 * never blocks the caller (a request that finds the queue full is dropped). */
void ps_prefetch(uintptr_t start, size_t len);
/* Start `threads` read-ahead threads, each reading up to `pages` at once
 * (after ps_cache_init: the read-ahead distance depends on the budget). */
int ps_prefetch_start(unsigned threads, unsigned pages);
/* Held across fork; in the child the queue starts afresh. */
void ps_prefetch_lock(void);
void ps_prefetch_unlock(void);
void ps_prefetch_fork_child(void);

#endif
