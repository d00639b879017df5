/* store.c - see store.h: pages live in the mapping itself. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "real.h"
#include "region.h"
#include "stats.h"

static int procmem = -1;        /* /proc/self/mem, when forced writes work */
static int pagemap = -1;        /* /proc/self/pagemap, or -1: mincore */

/* Can this kernel force a write into our own read-only page? (Not when
 * booted with proc_mem.force_override=never.) */
static int probe_procmem(void)
{
	int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	char *page = real.mmap(NULL, PS_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	int ok = fd >= 0 && page != MAP_FAILED &&
		 pwrite(fd, "x", 1, (off_t)(uintptr_t)page) == 1 && page[0] == 'x';
	if (page != MAP_FAILED)
		real.munmap(page, PS_PAGE);
	if (!ok && fd >= 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

void ps_store_init(void)
{
	procmem = probe_procmem();
	pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

void ps_store_fork_child(void)
{
	/* /proc/self/... opened by the parent describes the parent. */
	if (procmem >= 0)
		close(procmem);
	if (pagemap >= 0)
		close(pagemap);
	ps_store_init();
}

int ps_store_map(const struct ps_region *r, int prot, int noreserve)
{
	void *p = (void *)r->start;
	size_t len = r->npages * PS_PAGE;
	int anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (noreserve ? MAP_NORESERVE : 0);
	if (real.mmap(p, len, prot, anon, -1, 0) == MAP_FAILED)
		return -errno;
	/* Under mlockall(MCL_FUTURE) every new mapping is locked and populated
	 * with zero pages before it could be registered; locked pages must stay
	 * resident, which an evicting cache cannot promise, so such mappings
	 * stay with the kernel. */
	unsigned char v = 0;
	if (ps_store_held(r->start, 1, &v) == 0 && v)
		return -ENOTSUP;
	return ps_uffd_register(r->start, len, r->wp);
}

int ps_store_rearm(const struct ps_region *r, int protect)
{
	size_t len = r->npages * PS_PAGE;
	int err = ps_uffd_register(r->start, len, r->wp);
	if (!err && protect && r->wp)
		err = ps_uffd_writeprotect(r->start, len, 1);
	return err;
}

int ps_store_install(const struct ps_region *r, size_t page, const void *src, size_t n,
		     int flags, size_t *copied)
{
	return ps_uffd_copy(region_addr(r, page), src, n * PS_PAGE, flags, copied);
}

/* madvise one range; 0 or -errno. */
static int zap_one(const struct iovec *iov)
{
	PS_COUNT(eviction_calls, 1);
	return real.madvise(iov->iov_base, iov->iov_len, MADV_DONTNEED) ? -errno : 0;
}

size_t ps_store_drop(struct iovec *iov, size_t n, uint8_t *failed)
{
	static int refused;     /* the kernel has no process_madvise(MADV_DONTNEED) on self */
	size_t i = 0, nfailed = 0;
	if (!__atomic_load_n(&refused, __ATOMIC_RELAXED)) {
		ssize_t done = real.process_madvise(PIDFD_SELF, iov, n, MADV_DONTNEED, 0);
		if (done < 0 && errno == EBADF) {
			/* before 6.14 there is no PIDFD_SELF */
			int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
			if (pidfd >= 0) {
				done = real.process_madvise(pidfd, iov, n, MADV_DONTNEED, 0);
				close(pidfd);
			}
		}
		PS_COUNT(eviction_calls, 1);
		/* It stops at the first range it cannot advise (a locked one):
		 * skip what it did, then go range by range. */
		for (; done > 0 && i < n && (size_t)done >= iov[i].iov_len; i++)
			done -= (ssize_t)iov[i].iov_len;
		if (done < 0 && i < n && zap_one(&iov[i]) == 0) {
			/* the call itself is refused, not the range */
			__atomic_store_n(&refused, 1, __ATOMIC_RELAXED);
			ps_debug("process_madvise refused (%d): evicting with madvise", errno);
			i++;
		}
	}
	for (; i < n; i++) {
		int err = zap_one(&iov[i]);
		if (failed)
			failed[i] = err != 0;
		nfailed += err != 0;
	}
	return nfailed;
}


int ps_store_can_rewrite(void)
{
	return procmem >= 0;
}

int ps_store_rewrite(const struct ps_region *r, size_t page, const void *src, size_t n)
{
	size_t len = n * PS_PAGE;
	ssize_t w = pwrite(procmem, src, len, (off_t)region_addr(r, page));
	return w == (ssize_t)len ? 0 : w < 0 ? -errno : -EIO;
}

void ps_store_drop_locked(uintptr_t addr, size_t len)
{
	if (real.madvise((void *)addr, len, MADV_DONTNEED_LOCKED))
		real.madvise((void *)addr, len, MADV_DONTNEED);   /* before 5.18 */
}

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PAGEMAP_CHUNK 64        /* entries per read: 512 bytes of stack */

int ps_store_held(uintptr_t addr, size_t n, unsigned char *vec)
{
	if (pagemap < 0) {
		if (mincore((void *)addr, n * PS_PAGE, vec))
			return -errno;
		for (size_t i = 0; i < n; i++)
			vec[i] &= 1;
		return 0;
	}
	/* Few entries a read: this runs in ps_writeback_dying too, on the
	 * program's alternate signal stack, which may be small (SIGSTKSZ). */
	uint64_t e[PAGEMAP_CHUNK];
	for (size_t i = 0; i < n; ) {
		size_t k = n - i < PAGEMAP_CHUNK ? n - i : PAGEMAP_CHUNK;
		off_t at = (off_t)((addr >> PS_PAGE_SHIFT) + i) * 8;
		ssize_t got = real.pread(pagemap, e, k * 8, at);
		if (got < 8)
			return got < 0 ? -errno : -EIO;
		k = (size_t)got / 8;
		for (size_t j = 0; j < k; j++)
			vec[i + j] = !!(e[j] & (PM_PRESENT | PM_SWAPPED));
		i += k;
	}
	return 0;
}

const void *ps_store_bytes(const struct ps_region *r, size_t page)
{
	return (const void *)region_addr(r, page);
}
