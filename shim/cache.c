/* cache.c - budget and eviction batches (see cache.h). */
#include "cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "real.h"
#include "region.h"
#include "stats.h"
#include "store.h"

/* Largest eviction batch: IOV_MAX ranges is what one process_madvise call
 * takes; 512 pages also bounds how long a fill waits behind an eviction. */
#define BATCH_MAX 512u
#define BATCH_MIN 16u

/* Two locks, always taken in this order: evict_lock is held for a whole
 * eviction, `lock` only while page states and the policy change. The zap,
 * the long part (hundreds of microseconds for a batch here, most of it
 * waiting for the TLB shootdown), runs under evict_lock alone, so a fill
 * can commit its pages meanwhile (ps_cache_lock_commit). Everything else
 * takes both (ps_cache_lock), so it never sees an eviction half done. */
static pthread_mutex_t evict_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ps_policy policy;
static uint64_t budget;                 /* pages */
static unsigned batch;                  /* pages per eviction */
static uint64_t resident, peak, dirty;  /* pages (atomic) */
static uint64_t shared_dirty;           /* of `dirty`, those of MAP_SHARED mappings (atomic) */
static uint64_t spilled;                /* PG_SPILLED pages, not resident (atomic) */

static struct victim {
	uintptr_t addr;
	struct ps_region *r;
	size_t page;
	uint32_t node;
	uint32_t range;         /* its index in ranges[] */
} victims[BATCH_MAX];
static struct iovec ranges[BATCH_MAX];
static uint8_t range_failed[BATCH_MAX];

int ps_cache_init(uint64_t budget_bytes, unsigned inflight_pages)
{
	budget = budget_bytes / PS_PAGE;
	if (budget < 16)
		budget = 16;
	batch = (unsigned)(budget / 64);
	batch = batch < BATCH_MIN ? BATCH_MIN : batch > BATCH_MAX ? BATCH_MAX : batch;
	/* Nodes for twice the budget (pages the program mlock()s stay and keep
	 * theirs) plus every page a fill may hold reserved; the array is touched
	 * only as far as it is used. */
	return ps_policy_init(&policy, (uint32_t)budget, (uint32_t)(2 * budget + inflight_pages));
}

void ps_cache_lock(void)
{
	pthread_mutex_lock(&evict_lock);
	pthread_mutex_lock(&lock);
}

void ps_cache_unlock(void)
{
	pthread_mutex_unlock(&lock);
	pthread_mutex_unlock(&evict_lock);
}

void ps_cache_lock_commit(void) { pthread_mutex_lock(&lock); }
void ps_cache_unlock_commit(void) { pthread_mutex_unlock(&lock); }
void ps_cache_wait(void) { ps_cache_lock(); ps_cache_unlock(); }

/* Ghost key of a region page: (file id, file page). */
static uint64_t ps_cache_key(const struct ps_region *r, size_t page)
{
	return (r->file->id << 40) ^ (r->pgoff + page);
}

static int by_addr(const void *a, const void *b)
{
	uintptr_t x = ((const struct victim *)a)->addr, y = ((const struct victim *)b)->addr;
	return x < y ? -1 : x > y;
}

/* Under evict_lock: evict up to `want` clean pages. Returns how many.
 * The victims are PG_BUSY from their choice to their end, so a thread that
 * faults on one waits in ps_cache_wait until the eviction is over. */
static unsigned evict(unsigned want)
{
	unsigned n = 0;
	if (want > BATCH_MAX)
		want = BATCH_MAX;
	pthread_mutex_lock(&lock);
	while (n < want) {
		uint32_t node = ps_policy_victim(&policy);
		if (!node)
			break;
		struct ps_node *nd = ps_policy_node(&policy, node);
		struct ps_region *r = nd->owner;
		uint32_t expect = PG_WORD(PG_CLEAN, node);
		if (!page_cas(r, nd->page, &expect, PG_WORD(PG_BUSY, node))) {
			/* Cannot happen while CLEAN changes only under this lock. */
			ps_warn_once("internal: evicting a page that is not clean (word %#x)", expect);
			continue;
		}
		victims[n++] = (struct victim){ region_addr(r, nd->page), r, nd->page, node };
	}
	pthread_mutex_unlock(&lock);
	if (!n)
		return 0;
	qsort(victims, n, sizeof *victims, by_addr);
	size_t cnt = 0;
	for (unsigned i = 0; i < n; i++) {
		if (cnt && (uintptr_t)ranges[cnt - 1].iov_base + ranges[cnt - 1].iov_len == victims[i].addr)
			ranges[cnt - 1].iov_len += PS_PAGE;
		else
			ranges[cnt++] = (struct iovec){ (void *)victims[i].addr, PS_PAGE };
		victims[i].range = (uint32_t)(cnt - 1);
	}
	memset(range_failed, 0, cnt);
	ps_store_drop(ranges, cnt, range_failed);
	unsigned gone = 0;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < n; i++) {
		struct victim *v = &victims[i];
		unsigned char present = 0;
		/* A refused range (part of it mlock()ed) may have been dropped up
		 * to the locked part: what is still there stays, and stays tracked. */
		if (range_failed[v->range] && ps_store_held(v->addr, 1, &present) == 0 &&
		    present) {
			page_store(v->r, v->page, PG_WORD(PG_CLEAN, v->node));
			ps_policy_unvictim(&policy, v->node);
			continue;
		}
		page_store(v->r, v->page, PG_EMPTY);
		ps_policy_retire(&policy, v->node, ps_cache_key(v->r, v->page));
		FILE_COUNT(v->r->file, evicted_pages, 1);
		gone++;
	}
	pthread_mutex_unlock(&lock);
	__atomic_fetch_sub(&resident, gone, __ATOMIC_RELAXED);
	PS_COUNT(evicted_pages, gone);
	return gone;
}

void ps_cache_reserve(unsigned n)
{
	for (;;) {
		uint64_t cur = __atomic_load_n(&resident, __ATOMIC_RELAXED);
		/* Past the budget by more than a batch: the trims after fills
		 * fell behind, so this fill evicts before it reads. */
		if (cur + n > budget + batch) {
			pthread_mutex_lock(&evict_lock);
			int tried = __atomic_load_n(&resident, __ATOMIC_RELAXED) + n > budget + batch;
			unsigned got = tried ? evict(n > batch ? n : batch) : 0;
			pthread_mutex_unlock(&evict_lock);
			if (got || !tried)
				continue;       /* evicted, or another thread did meanwhile */
			/* Nothing evictable: the rest is dirty or being filled. */
			cur = __atomic_load_n(&resident, __ATOMIC_RELAXED);
			if (cur + n > budget + batch)
				ps_warn_once("budget exceeded: no resident page can be evicted (written privately, locked by the program, or being filled)");
		}
		if (__atomic_compare_exchange_n(&resident, &cur, cur + n, 0, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			break;
	}
	uint64_t now = __atomic_load_n(&resident, __ATOMIC_RELAXED);
	uint64_t p = __atomic_load_n(&peak, __ATOMIC_RELAXED);
	while (now > p && !__atomic_compare_exchange_n(&peak, &p, now, 1, __ATOMIC_RELAXED,
						       __ATOMIC_RELAXED))
		;
}

/* Over the budget with more than one batch of pages not written privately?
 * When written pages fill the budget, the others keep one batch to work
 * in: trimming them to nothing would evict each page right after its fill,
 * before the faulting thread could touch it. */
static int over_budget(void)
{
	uint64_t r = __atomic_load_n(&resident, __ATOMIC_RELAXED);
	uint64_t d = __atomic_load_n(&dirty, __ATOMIC_RELAXED);
	return r > budget && r > d + batch;
}

void ps_cache_trim(void)
{
	if (!over_budget() || pthread_mutex_trylock(&evict_lock))
		return;         /* within the budget, or another thread is evicting */
	if (over_budget())
		evict(batch);
	pthread_mutex_unlock(&evict_lock);
}

void ps_cache_unreserve(unsigned n)
{
	__atomic_fetch_sub(&resident, n, __ATOMIC_RELAXED);
}

int ps_cache_installed(struct ps_region *r, size_t page, enum ps_hint hint)
{
	int ghost;
	uint32_t node = ps_policy_insert(&policy, ps_cache_key(r, page), r, (uint32_t)page, hint, &ghost);
	if (!node) {
		/* Twice the budget is resident (the program locked that much): the
		 * page stays clean but untracked, never evicted. */
		ps_warn_once("more than twice the budget is resident and locked; "
			     "new pages are kept without eviction");
		page_store(r, page, PG_WORD(PG_CLEAN, 0));
		return 0;
	}
	if (ghost)
		PS_COUNT(ghost_hits, 1);
	page_store(r, page, PG_WORD(PG_CLEAN, node));
	return ghost;
}

static void count_dirty(struct ps_region *r, int64_t n)
{
	__atomic_fetch_add(&dirty, (uint64_t)n, __ATOMIC_RELAXED);
	if (!r->private_) {
		__atomic_fetch_add(&shared_dirty, (uint64_t)n, __ATOMIC_RELAXED);
		__atomic_fetch_add(&r->file->dirty, (uint64_t)n, __ATOMIC_RELAXED);
	}
}

void ps_cache_installed_dirty(struct ps_region *r, size_t page)
{
	page_store(r, page, PG_WORD(PG_DIRTY, 0));
	count_dirty(r, 1);
}

int ps_cache_make_dirty(struct ps_region *r, size_t page)
{
	uint32_t w = page_load(r, page);
	if (PG_STATE(w) != PG_CLEAN)
		return -EAGAIN;
	if (PG_NODE(w))
		ps_policy_remove(&policy, PG_NODE(w));
	ps_cache_installed_dirty(r, page);
	return 0;
}

int ps_cache_writing(struct ps_region *r, size_t page)
{
	uint32_t expect = PG_WORD(PG_DIRTY, 0);
	return page_cas(r, page, &expect, PG_WORD(PG_BUSY, 0)) ? 0 : -EAGAIN;
}

void ps_cache_written(struct ps_region *r, size_t page, int ok)
{
	if (!ok) {
		page_store(r, page, PG_WORD(PG_DIRTY, 0));
		return;
	}
	count_dirty(r, -1);
	ps_cache_installed(r, page, PS_HINT_NORMAL);
}

static void count_spilled(struct ps_region *r, int64_t n)
{
	__atomic_fetch_add(&spilled, (uint64_t)n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->file->spilled, (uint64_t)n, __ATOMIC_RELAXED);
}

void ps_cache_spilled(struct ps_region *r, size_t page)
{
	count_dirty(r, -1);
	count_spilled(r, 1);
	page_store(r, page, PG_WORD(PG_SPILLED, 0));
	ps_cache_unreserve(1);
	PS_COUNT(pages_spilled, 1);
}

void ps_cache_respilled(struct ps_region *r, size_t page)
{
	count_spilled(r, 1);
	page_store(r, page, PG_WORD(PG_SPILLED, 0));
}

int ps_cache_unspill(struct ps_region *r, size_t page, unsigned to)
{
	uint32_t expect = PG_WORD(PG_SPILLED, 0);
	if (!page_cas(r, page, &expect, PG_WORD(to, 0)))
		return -EAGAIN;
	count_spilled(r, -1);
	return 0;
}

void ps_cache_forget(struct ps_region *r, size_t page)
{
	uint32_t w = page_load(r, page);
	switch (PG_STATE(w)) {
	case PG_SPILLED:
		ps_cache_unspill(r, page, PG_EMPTY);
		return;
	case PG_CLEAN:
		if (PG_NODE(w))
			ps_policy_remove(&policy, PG_NODE(w));
		break;
	case PG_DIRTY:
		count_dirty(r, -1);
		break;
	case PG_POISON:
		page_store(r, page, PG_EMPTY);
		return;
	default:
		return;
	}
	page_store(r, page, PG_EMPTY);
	ps_cache_unreserve(1);
}

void ps_cache_retarget(uint32_t node, struct ps_region *r, size_t page)
{
	if (!node)
		return;
	struct ps_node *nd = ps_policy_node(&policy, node);
	nd->owner = r;
	nd->page = (uint32_t)page;
}

void ps_cache_gauges(struct ps_cache_gauges *g)
{
	g->budget_pages = budget;
	g->resident_pages = __atomic_load_n(&resident, __ATOMIC_RELAXED);
	g->peak_pages = __atomic_load_n(&peak, __ATOMIC_RELAXED);
	g->dirty_pages = __atomic_load_n(&dirty, __ATOMIC_RELAXED);
	g->shared_dirty_pages = __atomic_load_n(&shared_dirty, __ATOMIC_RELAXED);
}

uint64_t ps_cache_shared_dirty(void)
{
	return __atomic_load_n(&shared_dirty, __ATOMIC_RELAXED);
}

uint64_t ps_cache_unwritten(void)
{
	return ps_cache_shared_dirty() + __atomic_load_n(&spilled, __ATOMIC_RELAXED);
}
