/* readahead.c - see readahead.h. */
#include "readahead.h"

#include <sys/mman.h>

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

unsigned ps_readahead_window(struct ps_readahead *ra, uint32_t page, int advice, unsigned max)
{
	if (advice == MADV_RANDOM || max <= 1)
		return 1;
	if (advice == MADV_SEQUENTIAL)
		return max;
	for (unsigned s = 0; s < PS_RA_STREAMS; s++) {
		uint32_t e = LOAD(ra->expect[s]);
		uint32_t w = LOAD(ra->window[s]);
		/* A hit: the fault lands where the stream's last window ended, or
		 * within the window after it (read ahead in the background, see
		 * fill.c, or taken by another thread). */
		if (e && page + 1 >= e && page + 1 < e + 2 * w) {
			uint32_t next = w * 2 < max ? w * 2 : max;
			STORE(ra->window[s], next);
			STORE(ra->expect[s], page + next + 1);
			return next;
		}
	}
	unsigned s = __atomic_fetch_add(&ra->victim, 1, __ATOMIC_RELAXED) % PS_RA_STREAMS;
	STORE(ra->window[s], 1);
	STORE(ra->expect[s], page + 2);
	return 1;
}
