/* region.h - managed mappings and the registry that finds them by address.
 *
 * A region is one managed mapping: an anonymous range registered with
 * userfaultfd, standing for `npages` pages of a file from file page
 * `pgoff`. Each page has a 32-bit word: its state in the low 3 bits and,
 * for a clean resident page, its eviction-policy node above them.
 *
 * Locking (the order is regions -> file -> cache):
 *   ps_regions_lock   rwlock. Held for reading by everything that uses a
 *                     region (a fault being served, a coherence update, an
 *                     eviction) from lookup to the last touch, and for
 *                     writing by what creates, splits, moves or frees one
 *                     (mmap, munmap, mremap, fork). Writers are preferred,
 *                     so a munmap waits only for fills already running.
 *   page words        changed with atomic compare-and-swap; transitions into
 *                     and out of PG_CLEAN happen under the cache lock. */
#ifndef PAGESHIM_REGION_H
#define PAGESHIM_REGION_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "readahead.h"

#define PS_PAGE 4096u           /* x86_64; checked at start-up */
#define PS_PAGE_SHIFT 12

enum ps_page_state {
	PG_EMPTY = 0,           /* not resident: the next access faults */
	PG_FILLING = 1,         /* a handler is reading it */
	PG_CLEAN = 2,           /* resident, equal to the file, evictable */
	PG_DIRTY = 3,           /* resident and written: MAP_PRIVATE pages are never evicted,
				   MAP_SHARED ones are written back first (writeback.h) */
	PG_BUSY = 4,            /* being evicted, refreshed or written back (cache.h) */
	PG_POISON = 5,          /* a poison marker stands in for it (see sigbus.c) */
	PG_SPILLED = 6,         /* written, not resident: its bytes wait in the file's spill
				   file (PAGESHIM_WRITEBACK=msync, writeback.h) */
};

#define PG_STATE(w) ((unsigned)(w) & 7u)
#define PG_NODE(w) ((uint32_t)(w) >> 3)
#define PG_WORD(state, node) (((uint32_t)(node) << 3) | (uint32_t)(state))

struct ps_file;

struct ps_region {
	uintptr_t start;
	size_t npages;
	uint64_t pgoff;                 /* file page of the first page */
	struct ps_file *file;
	int private_;                   /* MAP_PRIVATE */
	int wp;                         /* pages are installed write-protected, so that the
					   first write marks them dirty: MAP_PRIVATE, or
					   MAP_SHARED of a file open for writing */
	int prot;                       /* as mapped or mprotect()ed (for handing the range
					   back to the kernel; mprotect splits regions) */
	int forked;                     /* shared, read-only at a fork: made writable, it goes
					   back to the kernel (mapping.c) */
	int advice;                     /* MADV_NORMAL / MADV_RANDOM / MADV_SEQUENTIAL */
	uint32_t *pages;                /* npages words (atomic access only) */
	size_t pages_bytes;             /* bytes reserved for `pages` */
	struct ps_readahead ra;
	struct ps_region *file_next;    /* the file's other regions */
};

extern pthread_rwlock_t ps_regions_lock;

/* Program threads take ps_regions_lock through these, with every signal
 * blocked while they hold it (and the file and cache locks under it): a
 * signal handler that touched a managed page there would wait for a handler
 * thread that waits for this lock. Handler threads block all signals from
 * birth and use the lock directly. */
void regions_enter(int write, sigset_t *saved);
void regions_leave(const sigset_t *saved);

static inline uintptr_t region_addr(const struct ps_region *r, size_t page)
{
	return r->start + ((uintptr_t)page << PS_PAGE_SHIFT);
}
static inline uintptr_t region_end(const struct ps_region *r)
{
	return region_addr(r, r->npages);
}
static inline uint32_t page_load(const struct ps_region *r, size_t page)
{
	return __atomic_load_n(&r->pages[page], __ATOMIC_ACQUIRE);
}
static inline int page_cas(struct ps_region *r, size_t page, uint32_t *expect, uint32_t want)
{
	return __atomic_compare_exchange_n(&r->pages[page], expect, want, 0, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}
static inline void page_store(struct ps_region *r, size_t page, uint32_t w)
{
	__atomic_store_n(&r->pages[page], w, __ATOMIC_RELEASE);
}

/* A new region with all pages PG_EMPTY, not yet in the registry. */
struct ps_region *region_new(uintptr_t start, size_t npages, uint64_t pgoff);
/* Resize the page-word array (mremap): new pages are PG_EMPTY. 0 or -ENOMEM. */
int region_resize(struct ps_region *r, size_t npages);
void region_free(struct ps_region *r);

/* Registry (callers hold ps_regions_lock: read for lookups, write to change). */
struct ps_region *region_find(uintptr_t addr);
/* Index of the first region ending after `start` (iterate with region_at). */
size_t region_first_after(uintptr_t start);
struct ps_region *region_at(size_t i);  /* NULL past the end */
int region_insert(struct ps_region *r); /* 0 or -ENOMEM */
void region_remove(struct ps_region *r);
/* Re-sort after a region's start changed (mremap). */
void region_moved(struct ps_region *r);
size_t region_count(void);

#endif
