/* writeback.h - written pages of MAP_SHARED mappings go back to their file.
 *
 * A MAP_SHARED mapping of a file open for writing has its pages installed
 * write-protected, as a private mapping's are: the first write to a clean
 * page faults, and the handler marks it PG_DIRTY and lifts the protection,
 * so further writes cost nothing until the page is written back. (The
 * kernel does the same for a shared file mapping: the first write after
 * each write-back faults, to mark the page dirty.) Writing a run back:
 *   1. under the cache lock, its dirty pages become PG_BUSY;
 *   2. the run is write-protected again, so a thread writing to it now
 *      faults and waits instead of changing bytes under the write;
 *   3. one pwritev2 from the mapping itself writes it, clipped at the end of
 *      the file, uncached where the kernel can (file.h); each page's new
 *      checksum is recorded;
 *   4. the pages become PG_CLEAN: evictable, and protected for the next
 *      write. When the write failed they stay dirty. Then, under the file's
 *      lock, fills of other mappings of the file that may have read the
 *      old bytes read again (`seq`), and the file's times are noted
 *      (external.h).
 * Step 3 holds the cache's outer lock, as an eviction's zap does (cache.h),
 * and not the file's lock (writeback.c says why).
 *
 * Who writes back: msync, munmap and everything else that drops a range,
 * exit and _exit, the program's own reads and writes of the file
 * (coherence.h), and the flusher thread: when dirty shared pages pass three
 * quarters of the budget it writes them until they are under half, and
 * every FLUSH_PERIOD_S seconds it writes them all. A handler that serves a
 * fault while seven eighths of the budget are dirty writes back down to
 * three quarters itself, so a writer cannot outrun the flusher (the kernel's
 * dirty throttling does the same). High marks, where the kernel starts at
 * 10% of memory: a page written back is write-protected again, and a page
 * the program keeps writing (a B-tree's root, a hash table's buckets) would
 * otherwise fault and be written over and over (measured: Kyoto Cabinet
 * writing a hash database in a budget that holds it went from 2.1x the
 * kernel's time to 1.1x when the marks went from 1/2 to 3/4).
 *
 * Under PAGESHIM_WRITEBACK=msync the same thresholds move written pages to
 * the file's spill file instead (file.h), and nothing is written to the
 * file unasked: no periodic pass, no write-back at unlock, before the
 * program's own reads and writes, or at a fatal signal. */
#ifndef PAGESHIM_WRITEBACK_H
#define PAGESHIM_WRITEBACK_H

#include <stddef.h>
#include <stdint.h>

struct ps_file;
struct ps_region;

/* Start the flusher thread. 0 or -errno. */
int ps_writeback_start(void);
/* In a forked child: the parent's flusher is not here. */
int ps_writeback_fork_child(void);

/* Callers hold ps_regions_lock (either mode); each returns 0 or the first
 * -errno (pages that could not be written stay dirty). */
/* Pages [a, b) of region r. */
int ps_writeback_region(struct ps_region *r, size_t a, size_t b);
/* Every region's pages within [start, end) of the address space. */
int ps_writeback_range(uintptr_t start, uintptr_t end);
/* The range's memory is going (MADV_DONTNEED, mprotect to no access, mremap)
 * but its written pages must stay: write them back, or under
 * PAGESHIM_WRITEBACK=msync move them to the spill file. */
int ps_writeback_keep(uintptr_t start, uintptr_t end);
/* File pages [first, end) of f, in every region mapping them. */
int ps_writeback_file(struct ps_file *f, uint64_t first, uint64_t end);

/* A handler made a shared page dirty (called holding no lock). */
void ps_writeback_dirtied(void);
/* Everything, now (exit, _exit): takes the regions lock. */
void ps_writeback_all(void);
/* Everything, from a handler of a fatal signal (fatal.h): async-signal-
 * safe, best effort (the pages written are not marked clean; the process
 * is about to end). */
void ps_writeback_dying(void);

#endif
