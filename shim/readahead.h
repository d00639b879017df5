/* readahead.h - how many pages to read for one fault, and what to read
 * ahead of it in the background.
 *
 * MADV_RANDOM reads the faulting page only; MADV_SEQUENTIAL reads the
 * largest window. With no advice (what SQLite, git and most programs give)
 * each region keeps a few streams: a fault at or just past where a stream
 * expected the next fault doubles that stream's window (1, 2, 4 … up to the
 * maximum); any other fault starts a new stream with one page. So random
 * access reads exactly what it touches — the kernel's fixed read-around is
 * what makes random reads of a file larger than memory collapse — and a
 * scan, even several interleaved ones, quickly reads large windows.
 *
 * A stream at the largest window (and any MADV_SEQUENTIAL fault) also asks
 * for `distance` pages past the window read now, to be read in the
 * background, one window per read-ahead thread (fill.c), so that several
 * reads are in flight as the device needs for its full rate. A fault on a
 * page such a read is still filling counts as a hit too and tops the
 * stream up: a scan faster than the device keeps the pipeline full. (A scan
 * slower than the device finds its windows installed, faults only past the
 * last one and waits for one read there: the kernel's PG_readahead marker
 * has no equivalent a fault handler can see.)
 *
 * The state is advisory: threads update it without a lock (relaxed atomic
 * fields); a lost update only costs a smaller or larger window. */
#ifndef PAGESHIM_READAHEAD_H
#define PAGESHIM_READAHEAD_H

#include <stdint.h>

#define PS_RA_STREAMS 4

struct ps_readahead {
	uint32_t expect[PS_RA_STREAMS];  /* page where the stream's next fault lands, +1 (0 = free) */
	uint32_t window[PS_RA_STREAMS];
	uint32_t ahead[PS_RA_STREAMS];   /* end of what the stream asked to read in the background */
	uint32_t victim;                 /* round-robin slot to replace */
};

struct ps_ra_plan {
	unsigned now;           /* pages to read from the faulting page on (at least 1) */
	uint32_t ahead;         /* first page to read in the background */
	unsigned ahead_n;       /* how many (0: none) */
};

/* Plan the reads for a fault on `page`; `max` is the largest window,
 * `distance` how far past it a full-speed stream reads in the background. */
void ps_readahead_plan(struct ps_readahead *ra, uint32_t page, int advice, unsigned max,
		       unsigned distance, struct ps_ra_plan *plan);
/* The same for a fault on a page still being filled: only a stream it
 * continues asks for more (plan->now is not read). */
void ps_readahead_waiting(struct ps_readahead *ra, uint32_t page, int advice, unsigned max,
			  unsigned distance, struct ps_ra_plan *plan);

#endif
