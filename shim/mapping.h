/* mapping.h - what pageshim does for the memory calls it interposes.
 *
 * mmap of an eligible file first maps the file with the kernel (so the
 * kernel validates every argument, picks the address and applies MAP_FIXED
 * and MAP_FIXED_NOREPLACE exactly as it would), then replaces that mapping
 * in place with anonymous memory registered with userfaultfd. Anything
 * pageshim will not manage keeps the kernel's mapping. Eligible: a regular
 * file on a filesystem with I/O behind it (not tmpfs, ramfs, hugetlbfs,
 * proc, sysfs …), page-aligned offset, not PROT_EXEC, not MAP_HUGETLB,
 * MAP_LOCKED, MAP_SYNC or MAP_GROWSDOWN, at least PAGESHIM_MIN_SIZE long,
 * selected by the globs, and not a second shared mapping of a file that one
 * of them writes (mapping.c, shared_conflict).
 *
 * Every function returns what the libc call returns, with errno set as the
 * kernel would set it; the wrappers in interpose.c preserve errno on
 * success. */
#ifndef PAGESHIM_MAPPING_H
#define PAGESHIM_MAPPING_H

#include <stddef.h>
#include <sys/types.h>

void *ps_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int ps_munmap(void *addr, size_t len);
void *ps_mremap(void *old, size_t old_size, size_t new_size, int flags, void *new_addr);
int ps_mprotect(void *addr, size_t len, int prot);
int ps_msync(void *addr, size_t len, int flags);
/* mlock2 (mlock is flags 0) and munlock: pages of managed mappings are
 * locked within the budget; past it, ENOMEM. */
int ps_mlock(const void *addr, size_t len, unsigned flags);
int ps_munlock(const void *addr, size_t len);
/* mlockall(MCL_CURRENT, with or without MCL_ONFAULT) locks every managed
 * page: ENOMEM unless they all fit the budget. munlockall gives all back.
 * (MCL_FUTURE: later mappings pass through, see mapping.c.) */
int ps_mlockall(int flags);
int ps_munlockall(void);
/* 0 or -errno (posix_madvise returns the error, madvise sets errno). */
int ps_madvise(void *addr, size_t len, int advice);

/* In a child that cannot be served: map every region's file back with the
 * kernel (private pages written before the fork are lost, and said so). */
void ps_mapping_give_back_all(void);
/* Before fork (regions lock held for writing): shared mappings that are
 * writable go back to the kernel, written back first, so that parent and
 * child keep sharing them as the kernel's mappings are shared. Read-only
 * ones of a file open for writing stay, and go back when made writable. */
void ps_mapping_before_fork(void);
/* Drop the clean pages of region r: the next access reads the file
 * (ps_regions_lock held). */
struct ps_region;
void ps_mapping_drop_clean(struct ps_region *r);

#endif
