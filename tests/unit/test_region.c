/* test_region.c - the region registry and the read-around detector. */
#include "helpers.h"
#include "readahead.h"
#include "region.h"

static void registry(void)
{
	enum { N = 1000 };
	static struct ps_region *r[N];
	/* insert in a scrambled order; each region is 3 pages with a gap of 1 */
	for (unsigned i = 0; i < N; i++) {
		unsigned k = (i * 7919u) % N;
		r[k] = region_new(0x10000000u + (uintptr_t)k * 4 * PS_PAGE, 3, k);
		check(r[k] && region_insert(r[k]) == 0, "insert %u failed", k);
	}
	check(region_count() == N, "count %zu, expected %u", region_count(), (unsigned)N);
	for (unsigned k = 0; k < N; k++) {
		uintptr_t base = 0x10000000u + (uintptr_t)k * 4 * PS_PAGE;
		check(region_find(base) == r[k], "start of region %u not found", k);
		check(region_find(base + 3 * PS_PAGE - 1) == r[k], "last byte of region %u not found", k);
		check(region_find(base + 3 * PS_PAGE) == NULL, "gap after region %u found a region", k);
		check(region_at(region_first_after(base + PS_PAGE)) == r[k], "first_after inside %u", k);
	}
	check(region_find(0x1000) == NULL, "an address below every region found one");
	/* move one past the others, then remove all */
	r[0]->start = 0x10000000u + (uintptr_t)N * 4 * PS_PAGE;
	region_moved(r[0]);
	check(region_at(N - 1) == r[0] && region_find(r[0]->start) == r[0], "moved region out of order");
	for (unsigned k = 0; k < N; k++) {
		region_remove(r[k]);
		region_free(r[k]);
	}
	check(region_count() == 0, "registry not empty after removing all");
}

static void page_words(void)
{
	struct ps_region *r = region_new(0x20000000u, 10, 0);
	check(r, "region_new");
	page_store(r, 9, PG_WORD(PG_CLEAN, 12345));
	check(PG_STATE(page_load(r, 9)) == PG_CLEAN && PG_NODE(page_load(r, 9)) == 12345, "word round trip");
	check(region_resize(r, 100000) == 0, "resize up");
	check(page_load(r, 9) == PG_WORD(PG_CLEAN, 12345) && page_load(r, 99999) == PG_EMPTY,
	      "resize must keep old words and zero new ones");
	region_free(r);
}

static unsigned window(struct ps_readahead *ra, uint32_t page, int advice)
{
	struct ps_ra_plan plan;
	ps_readahead_plan(ra, page, advice, 64, 512, &plan);
	return plan.now;
}

static void read_around(void)
{
	struct ps_readahead ra;
	memset(&ra, 0, sizeof ra);
	check(window(&ra, 10, MADV_RANDOM) == 1, "MADV_RANDOM reads one page");
	check(window(&ra, 10, MADV_SEQUENTIAL) == 64, "MADV_SEQUENTIAL reads the most");
	/* a sequential stream doubles up to the maximum */
	memset(&ra, 0, sizeof ra);
	uint32_t page = 1000;
	unsigned w = window(&ra, page, MADV_NORMAL), expect = 1;
	check(w == 1, "first fault of a stream reads 1, got %u", w);
	for (int i = 0; i < 10; i++) {
		page += w;
		w = window(&ra, page, MADV_NORMAL);
		expect = expect * 2 > 64 ? 64 : expect * 2;
		check(w == expect, "step %d: window %u, expected %u", i, w, expect);
	}
	/* random faults read one page each */
	memset(&ra, 0, sizeof ra);
	unsigned total = 0;
	for (uint32_t i = 0; i < 1000; i++)
		total += window(&ra, (i * 2654435761u) % 1000000, MADV_NORMAL);
	check(total < 1100, "random faults read %u pages for 1000 faults", total);
}

/* A full-speed stream asks for `distance` pages past its window, once;
 * a fault on a page being read in the background tops it up. */
static void read_ahead(void)
{
	struct ps_readahead ra;
	struct ps_ra_plan p;
	memset(&ra, 0, sizeof ra);
	ps_readahead_plan(&ra, 0, MADV_SEQUENTIAL, 64, 512, &p);
	check(p.now == 64 && p.ahead == 64 && p.ahead_n == 512,
	      "first sequential fault: now %u, ahead %u+%u, expected 64, 64+512", p.now, p.ahead, p.ahead_n);
	ps_readahead_waiting(&ra, 64, MADV_SEQUENTIAL, 64, 512, &p);
	check(p.ahead == 576 && p.ahead_n == 64,
	      "waiting one window further: ahead %u+%u, expected 576+64", p.ahead, p.ahead_n);
	ps_readahead_waiting(&ra, 64, MADV_SEQUENTIAL, 64, 512, &p);
	check(p.ahead_n == 0, "the same page again asks for nothing more, got %u", p.ahead_n);
	ps_readahead_waiting(&ra, 100000, MADV_NORMAL, 64, 512, &p);
	check(p.ahead_n == 0, "waiting outside every stream asks for nothing, got %u", p.ahead_n);
	/* no advice: background reads begin once the window is the largest */
	memset(&ra, 0, sizeof ra);
	uint32_t page = 5000, ahead_at = 0;
	for (unsigned w = 1; w < 64; w *= 2) {
		ps_readahead_plan(&ra, page, MADV_NORMAL, 64, 512, &p);
		if (p.ahead_n && !ahead_at)
			ahead_at = p.now;
		page += p.now;
	}
	ps_readahead_plan(&ra, page, MADV_NORMAL, 64, 512, &p);
	check(!ahead_at && p.now == 64 && p.ahead == page + 64 && p.ahead_n == 512,
	      "no advice: background reads from window 64 (began at %u; now %u, ahead %u+%u)",
	      ahead_at, p.now, p.ahead, p.ahead_n);
	memset(&ra, 0, sizeof ra);
	ps_readahead_plan(&ra, 0, MADV_RANDOM, 64, 512, &p);
	check(p.now == 1 && p.ahead_n == 0, "MADV_RANDOM reads nothing ahead");
}

int main(void)
{
	registry();
	page_words();
	read_around();
	read_ahead();
	note("region and readahead: ok");
	return 0;
}
