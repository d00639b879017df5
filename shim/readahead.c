/* readahead.c - see readahead.h. */
#include "readahead.h"

#include <sys/mman.h>

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* The stream whose window `page` continues, or -1. A hit lands where the
 * stream's last window ended, or anywhere up to one window past what it
 * asked to read ahead (taken meanwhile by another thread or still being
 * read). */
static int find_stream(const struct ps_readahead *ra, uint32_t page)
{
	for (int s = 0; s < PS_RA_STREAMS; s++) {
		uint32_t e = LOAD(ra->expect[s]);
		uint32_t end = LOAD(ra->ahead[s]);
		if (end < e)
			end = e;
		if (e && page + 1 >= e && page + 1 < end + 2 * LOAD(ra->window[s]))
			return s;
	}
	return -1;
}

static void make_plan(struct ps_readahead *ra, uint32_t page, int advice, unsigned max,
		      unsigned distance, int waiting, struct ps_ra_plan *plan)
{
	plan->now = 1;
	plan->ahead = 0;
	plan->ahead_n = 0;
	if (advice == MADV_RANDOM || max <= 1)
		return;
	int s = find_stream(ra, page);
	if (s < 0 && waiting)
		return;
	if (s < 0) {
		s = (int)(__atomic_fetch_add(&ra->victim, 1, __ATOMIC_RELAXED) % PS_RA_STREAMS);
		STORE(ra->window[s], advice == MADV_SEQUENTIAL ? max : 1);
		STORE(ra->ahead[s], 0);
		if (advice != MADV_SEQUENTIAL) {
			STORE(ra->expect[s], page + 2);
			return;
		}
	}
	uint32_t w = LOAD(ra->window[s]);
	w = advice == MADV_SEQUENTIAL || w * 2 > max ? max : w * 2;
	STORE(ra->window[s], w);
	STORE(ra->expect[s], page + w + 1);
	plan->now = w;
	if (w < max)
		return;
	uint32_t from = page + w, to = page + w + distance;
	uint32_t asked = LOAD(ra->ahead[s]);
	if (asked > from)
		from = asked;
	if (to <= from)
		return;
	STORE(ra->ahead[s], to);
	plan->ahead = from;
	plan->ahead_n = to - from;
}

void ps_readahead_plan(struct ps_readahead *ra, uint32_t page, int advice, unsigned max,
		       unsigned distance, struct ps_ra_plan *p)
{
	make_plan(ra, page, advice, max, distance, 0, p);
}

void ps_readahead_waiting(struct ps_readahead *ra, uint32_t page, int advice, unsigned max,
			  unsigned distance, struct ps_ra_plan *p)
{
	make_plan(ra, page, advice, max, distance, 1, p);
}
