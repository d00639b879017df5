/* region.c - region objects and the address-sorted registry.
 *
 * The registry is a sorted array searched by bisection: lookups are
 * O(log n) on the fault path, inserts and removals O(n) on mmap/munmap,
 * which is 10,000 pointer moves at most in the largest case we test. */
#include "region.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "real.h"

pthread_rwlock_t ps_regions_lock;

void regions_enter(int write, sigset_t *saved)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, saved);
	if (write)
		pthread_rwlock_wrlock(&ps_regions_lock);
	else
		pthread_rwlock_rdlock(&ps_regions_lock);
}

void regions_leave(const sigset_t *saved)
{
	pthread_rwlock_unlock(&ps_regions_lock);
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

static struct ps_region **table;
static size_t used, allocated;

/* Page words are reserved with MAP_NORESERVE and touched lazily, so a 1 GiB
 * mapping of a small file (LMDB) costs only the words of pages it uses. */
static size_t words_bytes(size_t npages)
{
	size_t b = npages * sizeof(uint32_t);
	return (b + PS_PAGE - 1) & ~(size_t)(PS_PAGE - 1);
}

struct ps_region *region_new(uintptr_t start, size_t npages, uint64_t pgoff)
{
	struct ps_region *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->pages_bytes = words_bytes(npages ? npages : 1);
	r->pages = real.mmap(NULL, r->pages_bytes, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->pages == MAP_FAILED) {
		free(r);
		return NULL;
	}
	r->start = start;
	r->npages = npages;
	r->pgoff = pgoff;
	return r;
}

int region_resize(struct ps_region *r, size_t npages)
{
	size_t want = words_bytes(npages ? npages : 1);
	if (want != r->pages_bytes) {
		void *p = real.mremap(r->pages, r->pages_bytes, want, MREMAP_MAYMOVE, NULL);
		if (p == MAP_FAILED)
			return -ENOMEM;
		r->pages = p;
		r->pages_bytes = want;
	}
	if (npages > r->npages)
		memset(r->pages + r->npages, 0, (npages - r->npages) * sizeof(uint32_t));
	r->npages = npages;
	return 0;
}

void region_free(struct ps_region *r)
{
	real.munmap(r->pages, r->pages_bytes);
	free(r);
}

/* First index whose region ends after addr. */
size_t region_first_after(uintptr_t addr)
{
	size_t lo = 0, hi = used;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (region_end(table[mid]) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct ps_region *region_at(size_t i) { return i < used ? table[i] : NULL; }
size_t region_count(void) { return __atomic_load_n(&used, __ATOMIC_RELAXED); }

struct ps_region *region_find(uintptr_t addr)
{
	struct ps_region *r = region_at(region_first_after(addr));
	return r && r->start <= addr ? r : NULL;
}

int region_insert(struct ps_region *r)
{
	if (used == allocated) {
		size_t n = allocated ? allocated * 2 : 64;
		struct ps_region **t = realloc(table, n * sizeof *t);
		if (!t)
			return -ENOMEM;
		table = t;
		allocated = n;
	}
	size_t i = region_first_after(r->start);
	memmove(table + i + 1, table + i, (used - i) * sizeof *table);
	table[i] = r;
	__atomic_store_n(&used, used + 1, __ATOMIC_RELAXED);
	return 0;
}

void region_remove(struct ps_region *r)
{
	for (size_t i = region_first_after(r->start); i < used; i++) {
		if (table[i] == r) {
			memmove(table + i, table + i + 1, (used - i - 1) * sizeof *table);
			__atomic_store_n(&used, used - 1, __ATOMIC_RELAXED);
			return;
		}
	}
}

void region_moved(struct ps_region *r)
{
	size_t i;
	for (i = 0; i < used && table[i] != r; i++)
		;
	if (i == used)
		return;
	memmove(table + i, table + i + 1, (used - i - 1) * sizeof *table);
	__atomic_store_n(&used, used - 1, __ATOMIC_RELAXED);
	region_insert(r);   /* cannot fail: the slot was just freed */
}
