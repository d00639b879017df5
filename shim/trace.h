/* trace.h - PAGESHIM_TRACE: one record per fault served, for
 * `pageshim report` (the format is in pageshim.h).
 *
 * Each fault handler fills a buffer of its own (64 KiB) and appends it to
 * the file with one write when it is full, and at exit; a file's name is
 * written straight away, before any record of a fault in it can be. The
 * fault path pays for an uncontended lock and a 40-byte store. What is
 * buffered when the process is killed (SIGKILL, a fatal signal) is lost,
 * and so are faults served after the exit flush (by threads still running
 * while the process exits). */
#ifndef PAGESHIM_TRACE_H
#define PAGESHIM_TRACE_H

#include <stdint.h>

struct ps_file;
struct ps_trace_buf;

/* Trace to `path` (%p = pid; "" = off): the file is created at the first
 * fault. Called once, at start-up. */
void ps_trace_init(const char *path);
/* A fault handler's buffer, or NULL when tracing is off. */
struct ps_trace_buf *ps_trace_buffer(void);

struct ps_trace_fault {
	uint64_t start_ns;              /* ps_now_ns() when the fault was read */
	uint64_t service_ns, io_ns;
	uint64_t page;                  /* file page */
	uint32_t tid, pages;
	int cause;                      /* enum pageshim_trace_cause */
};
/* Record one fault in file f (NULL: none known) into b: called under
 * ps_regions_lock, which keeps f alive. Only a file's first record does
 * I/O (its name; the trace's creation). b must have room: */
void ps_trace_fault(struct ps_trace_buf *b, const struct ps_file *f, const struct ps_trace_fault *t);
/* after each ps_trace_fault, without ps_regions_lock: write b out when it is
 * full, so that no fault waits behind a 64 KiB write under the lock. */
void ps_trace_commit(struct ps_trace_buf *b);

/* Write every buffer out (at exit). */
void ps_trace_flush(void);
/* In a forked child: the parent's buffered records are the parent's. The
 * child traces to its own file when the path holds %p, else not at all. */
void ps_trace_fork_child(void);

#endif
