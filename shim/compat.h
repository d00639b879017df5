/* compat.h - userfaultfd and mm constants newer than the 6.1 headers in /usr/include.
 *
 * Everything here is detected at run time (UFFDIO_API features, EINVAL from a
 * syscall); defining a constant does not mean the running kernel has it. */
#ifndef PAGESHIM_COMPAT_H
#define PAGESHIM_COMPAT_H

#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#ifndef UFFD_FEATURE_POISON                     /* 6.6 */
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC                   /* 6.7 */
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

#ifndef UFFDIO_POISON
#define _UFFDIO_POISON (0x08)
struct uffdio_poison {
	struct uffdio_range range;
#define UFFDIO_POISON_MODE_DONTWAKE ((__u64)1 << 0)
	__u64 mode;
	__s64 updated;
};
#define UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

/* PAGEMAP_SCAN (6.7): the written pages of a range under WP_ASYNC, protected
 * again as they are found. pageshim does not track writes this way (README,
 * "Writes"); tools/bench/wpcost.c measures it. */
#ifndef PAGEMAP_SCAN
struct page_region {
	__u64 start, end, categories;
};
struct pm_scan_arg {
	__u64 size, flags, start, end, walk_end, vec, vec_len, max_pages;
	__u64 category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WRITTEN (1 << 1)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#endif

#ifndef USERFAULTFD_IOC_NEW                     /* /dev/userfaultfd, 6.1 */
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

#ifndef PIDFD_SELF                              /* 6.14; pidfd_open(getpid()) before */
#define PIDFD_SELF (-10000)
#endif

#ifndef MADV_DONTNEED_LOCKED                    /* 5.18 */
#define MADV_DONTNEED_LOCKED 24
#endif

/* Buffered I/O whose pages leave the page cache once written (6.14):
 * write-back without a second copy of the file in the kernel's cache. Not
 * under its kernel name, which a newer libc defines as an RWF_ constant. */
#define PS_RWF_DONTCACHE 0x00000080

#endif
