/* store.h - the frame store: where the bytes of managed pages live.
 *
 * Today a page's bytes live in the mapping itself: a region's range is
 * anonymous memory registered with the userfaultfd, a page is installed by
 * copying into it (UFFDIO_COPY), dropped with MADV_DONTNEED (batched into
 * one process_madvise per eviction), and read for write-back at its
 * address. One copy per mapping.
 *
 * These calls are everything that knows it. The rest of the library (page
 * states, the policy, the budget, dirty tracking, write-back and spill, the
 * checks against other processes) works on (region, page) and reaches the
 * file through struct ps_file. A store shared between mappings and
 * processes, one memfd per inode, would implement the same calls: map the
 * memfd MAP_SHARED and register it in minor mode (map), write the bytes read
 * into the memfd and map them with UFFDIO_CONTINUE (install), punch holes
 * in the memfd, which drops a page from every mapping at once (drop), and
 * write back from the memfd (bytes).
 *
 * The program's own madvise(MADV_DONTNEED/MADV_REMOVE) of a managed range
 * is forwarded to the range as it is (mapping.c): with this store that is
 * also what drops the pages. */
#ifndef PAGESHIM_STORE_H
#define PAGESHIM_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "uffd.h"

struct ps_region;

/* At start-up; in a forked child, again (what belongs to the parent's
 * address space is reopened). */
void ps_store_init(void);
void ps_store_fork_child(void);

/* Make region r's range servable, replacing what is mapped there (the
 * kernel's mapping of the file) with `prot`; `noreserve` when the memory is
 * not to be charged. r->start, npages and wp are set. 0 or -errno: the
 * range is then unusable and the caller maps the file there again. */
int ps_store_map(const struct ps_region *r, int prot, int noreserve);
/* Serve r's range again after the kernel moved it, grew it or forked the
 * process, which dropped its registration; with `protect`, write-protect
 * its present pages again (a move and a fork drop that too). 0 or -errno. */
int ps_store_rearm(const struct ps_region *r, int protect);

/* Install n pages of bytes from src at r's page `page` (flags: PS_COPY_WP,
 * PS_COPY_DONTWAKE, uffd.h). *copied, when given, says how many bytes went
 * in. 0 or -errno (-EEXIST: a page was there already). */
int ps_store_install(const struct ps_region *r, size_t page, const void *src, size_t n,
		     int flags, size_t *copied);

/* Can resident pages be rewritten in place (ps_store_rewrite)? */
int ps_store_can_rewrite(void);
/* Put n pages of new bytes from src into r's resident pages from `page` on,
 * in place, under a reader (a forced write through /proc/self/mem, as a
 * debugger's: no zap, no TLB shootdown). 0 or -errno. */
int ps_store_rewrite(const struct ps_region *r, size_t page, const void *src, size_t n);

/* Drop the pages of address ranges iov[0..n) (a batch of evictions, or a
 * write-back's spilled run). A range the kernel will not drop (mlock()ed)
 * is marked in failed[] when given. Returns how many ranges failed. */
size_t ps_store_drop(struct iovec *iov, size_t n, uint8_t *failed);
/* Drop [addr, addr+len) even where the program mlock()ed it: a refresh puts
 * the pages right back, and truncation unmaps locked pages too. */
void ps_store_drop_locked(uintptr_t addr, size_t len);

/* Which of the n pages from addr hold bytes: vec[i] = 1 for a page in
 * memory or swapped out, 0 for one that was never there or was dropped.
 * (mincore says 0 for a swapped-out page too: taking it for dropped would
 * lose what the program wrote.) Async-signal-safe. 0 or -errno. */
int ps_store_held(uintptr_t addr, size_t n, unsigned char *vec);

/* The bytes of r's page `page`, which is held, for writing it back. */
const void *ps_store_bytes(const struct ps_region *r, size_t page);

#endif
