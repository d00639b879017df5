/* trace.h - a PAGESHIM_TRACE file (format at the end of pageshim.h), read
 * for `pageshim report`. The file is mapped read-only and walked twice: once
 * to count (faults, causes, latency histograms, threads, each file's faults
 * and offsets, the time range) and, for the pictures, once more to bin the
 * faults over time and over each busy file's offsets. Memory is the file
 * table and one histogram per file that faulted (8 KiB), not the records. */
#ifndef PAGESHIM_TOOLS_TRACE_H
#define PAGESHIM_TOOLS_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "pageshim.h"

#define TRACE_CAUSES (PAGESHIM_CAUSE_ERROR + 1)    /* [0]: a cause this version does not know */
#define TRACE_FILE_IDS 65536                        /* a record's `file` is 16 bits */

struct trace_file {
	unsigned id;
	char *path;                 /* "(file N)" when the trace never named it */
	uint64_t faults, pages;
	uint64_t off_min, off_end;  /* bytes: the first page faulted, past the last one installed */
	struct ps_hist service;     /* ns */
};

struct trace {
	const unsigned char *map;
	size_t size;                /* of the file */
	size_t end;                 /* past the last whole record: size - end bytes were cut off */
	struct pageshim_trace_header head;
	uint64_t duration_ns;       /* trace start to the end of the last fault served */
	uint64_t faults, pages, causes[TRACE_CAUSES];
	struct ps_hist service;     /* ns, every fault */
	struct ps_hist io;          /* ns, the faults that read */
	unsigned threads;           /* distinct faulting threads (tid 0, unknown, not counted) */
	struct trace_file *file[TRACE_FILE_IDS];
	struct trace_file **order;  /* the files that faulted, most faults first */
	unsigned nfiles;
};

/* Faults per time bin, for the timeline: TRACE_BINS equal bins over the
 * trace's duration, fewer when they would be shorter than a millisecond. */
#define TRACE_BINS 150
struct trace_bins {
	uint64_t width_ns;
	unsigned n;
	uint64_t faults[TRACE_BINS], pages[TRACE_BINS];
};

/* One file's faults by time (HEAT_COLS equal columns over the trace) and by
 * offset (rows of whole pages, HEAT_ROWS at most, from the file's off_min). */
#define HEAT_COLS 120
#define HEAT_ROWS 80
struct trace_heat {
	const struct trace_file *file;
	unsigned rows;
	uint64_t row_bytes;
	uint64_t cell[HEAT_ROWS][HEAT_COLS];
};

/* Map the trace open on fd and count it into *t (zeroed by the caller).
 * Returns 0; -EPROTO when it is cut short in its header, its records are
 * not of this version's size or its page size is not a power of two from
 * 512 bytes to 1 GiB; -EBADMSG for a fault past 2^64 bytes of its file;
 * -ENOMEM; or an mmap/fstat -errno. A partial
 * record at the end is left out (t->end < t->size). trace_free(t) after,
 * whatever it returned. */
int trace_load(int fd, struct trace *t);

/* The second walk: *bins over the whole trace and heat[i] for the file
 * heat[i].file (rows and row_bytes set here, cells zeroed by the caller). */
void trace_bin(const struct trace *t, struct trace_bins *bins, struct trace_heat *heat, unsigned nheat);

void trace_free(struct trace *t);

#endif
