/* readahead.h - how many pages to read for one fault.
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
 * The state is advisory: threads update it without a lock (relaxed atomic
 * fields); a lost update only costs a smaller or larger window. */
#ifndef PAGESHIM_READAHEAD_H
#define PAGESHIM_READAHEAD_H

#include <stdint.h>

#define PS_RA_STREAMS 4

struct ps_readahead {
	uint32_t expect[PS_RA_STREAMS];  /* page where the stream's next fault lands, +1 (0 = free) */
	uint32_t window[PS_RA_STREAMS];
	uint32_t victim;                 /* round-robin slot to replace */
};

/* Pages to read starting at `page` (at least 1, at most max). */
unsigned ps_readahead_window(struct ps_readahead *ra, uint32_t page, int advice, unsigned max);

#endif
