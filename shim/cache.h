/* cache.h - the memory budget and eviction.
 *
 * The bytes of a managed page live in the mapping itself (installed with
 * UFFDIO_COPY), so "the cache" is the set of resident managed pages: the
 * budget bounds them, the policy (policy.h) orders them, and eviction drops
 * them from the mappings in batches: victims are sorted, coalesced into
 * ranges and zapped with one process_madvise(MADV_DONTNEED) per batch, so a
 * batch costs about one TLB shootdown instead of one per page.
 *
 * `resident` counts pages reserved for fills in flight, clean pages and
 * dirty (written) pages. Dirty pages are not evicted: a MAP_PRIVATE one, like
 * the kernel's anonymous copy-on-write pages without swap, stays; a
 * MAP_SHARED one is written back first (writeback.h) and is then clean.
 * They count against the budget, which private ones may exceed only when
 * nothing else is left.
 *
 * All transitions into and out of PG_CLEAN happen under the cache lock
 * (a fill's commit under the commit lock, which is its inner half).
 *
 * Resident pages may exceed the budget by one eviction batch (budget/64,
 * 16 to 512 pages): a fill evicts after it installed its pages and woke its
 * thread, so the faulting thread does not wait for the eviction. */
#ifndef PAGESHIM_CACHE_H
#define PAGESHIM_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "policy.h"

struct ps_region;

int ps_cache_init(uint64_t budget_bytes, unsigned inflight_pages);

/* Account n pages a fill is about to install. The fill evicts afterwards
 * (ps_cache_trim), once its faulting thread runs again; only past the
 * budget by more than an eviction batch does it evict first. Caller holds
 * ps_regions_lock for reading. */
void ps_cache_reserve(unsigned n);
/* Evict one batch if resident pages are over the budget and no other
 * thread is evicting. Caller holds ps_regions_lock for reading. */
void ps_cache_trim(void);
/* Give back n pages (a fill that installed fewer, pages that left). */
void ps_cache_unreserve(unsigned n);

void ps_cache_lock(void);
void ps_cache_unlock(void);
/* The lock a fill takes to commit its own PG_FILLING pages: it does not
 * wait for an eviction's zap (cache.c). */
void ps_cache_lock_commit(void);
void ps_cache_unlock_commit(void);
/* A write-back, long like an eviction's zap, takes ps_cache_lock, lets go
 * of the inner half with ps_cache_unlock_commit for its I/O on PG_BUSY pages
 * and takes it back with ps_cache_lock_commit: fills commit meanwhile, and
 * everything else waits for it, as for an eviction. */
/* Wait for an eviction or refresh in progress (a page was PG_BUSY). */
void ps_cache_wait(void);

/* Under the cache lock: */
/* A page was installed from the file: make it PG_CLEAN and evictable.
 * Returns 1 when it had been evicted recently (a re-fault), else 0. */
int ps_cache_installed(struct ps_region *r, size_t page, enum ps_hint hint);
/* A page was installed already written (a write fault): PG_DIRTY. */
void ps_cache_installed_dirty(struct ps_region *r, size_t page);
/* A PG_CLEAN page was written: PG_DIRTY, no longer evictable.
 * Returns 0, or -EAGAIN when the page is not clean. */
int ps_cache_make_dirty(struct ps_region *r, size_t page);
/* Write-back of a PG_DIRTY page of a MAP_SHARED mapping: it becomes
 * PG_BUSY (0, or -EAGAIN when it is not dirty), then, written, PG_CLEAN and
 * evictable again, or, when the write failed (ok = 0), PG_DIRTY again. */
int ps_cache_writing(struct ps_region *r, size_t page);
void ps_cache_written(struct ps_region *r, size_t page, int ok);
/* A PG_BUSY written page went to the spill file and left memory:
 * PG_SPILLED, no longer resident. */
void ps_cache_spilled(struct ps_region *r, size_t page);
/* A PG_SPILLED page becomes `to` (PG_FILLING to read it back, PG_BUSY to
 * write it to the file, PG_EMPTY when it is dropped). 0 or -EAGAIN. */
int ps_cache_unspill(struct ps_region *r, size_t page, unsigned to);
/* An unspilled page could not be written or read back: PG_SPILLED again. */
void ps_cache_respilled(struct ps_region *r, size_t page);
/* A resident page leaves (munmap, MADV_DONTNEED, truncate): PG_EMPTY,
 * node and budget released. The caller zaps the memory. */
void ps_cache_forget(struct ps_region *r, size_t page);

/* A region was split or moved: its clean page now belongs to `r` at `page`. */
void ps_cache_retarget(uint32_t node, struct ps_region *r, size_t page);


struct ps_cache_gauges {
	uint64_t budget_pages, resident_pages, peak_pages, dirty_pages, shared_dirty_pages;
};
void ps_cache_gauges(struct ps_cache_gauges *g);
/* Dirty pages of MAP_SHARED mappings (resident). */
uint64_t ps_cache_shared_dirty(void);
/* Written pages of MAP_SHARED mappings not yet in their file: the dirty
 * ones, and those spilled (PAGESHIM_WRITEBACK=msync). */
uint64_t ps_cache_unwritten(void);

#endif
