/* wpcost.c - what a page's first write costs, for `make wp-cost`: why
 * pageshim tracks written pages with synchronous userfaultfd write-protect
 * faults and not with UFFD_FEATURE_WP_ASYNC (README, "Writes").
 *
 *   wpcost file PAGES   a MAP_SHARED mapping of a PAGES-page file, read
 *                       whole, then written one byte a page, twice, then
 *                       msync'd and written again: the kernel's costs, or
 *                       pageshim's when run under it
 *   wpcost uffd PAGES   anonymous memory write-protected with userfaultfd:
 *                       synchronous (a handler thread unprotects each page,
 *                       the round trip pageshim makes) against WP_ASYNC (the
 *                       kernel unprotects), and PAGEMAP_SCAN collecting the
 *                       written pages and protecting them again
 *
 * Prints one "name ns-per-page" line per measure. The uffd mode also checks
 * what the README's argument rests on: the scan finds exactly the pages
 * written since the last one (exit 1 if not); exit 77 when the kernel has
 * no WP_ASYNC (before 6.7). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"

#define PAGE 4096

static size_t pages;

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "wpcost: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Write one byte in each page of p; prints and returns ns per page. */
static double write_pages(const char *name, volatile char *p, size_t step)
{
	double t0 = now_ns();
	for (size_t i = 0; i < pages; i += step)
		p[i * PAGE] = (char)i;
	double ns = (now_ns() - t0) / (double)((pages + step - 1) / step);
	printf("%-28s %8.0f\n", name, ns);
	return ns;
}

static void file_mode(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path);
	char *buf = malloc(pages * PAGE);
	if (!buf)
		die("malloc");
	memset(buf, 'x', pages * PAGE);
	if (pwrite(fd, buf, pages * PAGE, 0) != (ssize_t)(pages * PAGE) || fsync(fd))
		die("writing the file");
	free(buf);
	volatile char *m = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap");
	unsigned sum = 0;
	for (size_t i = 0; i < pages; i++)
		sum += (unsigned char)m[i * PAGE];
	if (sum != pages * 'x')
		die("reading the mapping");
	write_pages("file: first write", m, 1);
	write_pages("file: second write", m, 1);
	double t0 = now_ns();
	if (msync((void *)m, pages * PAGE, MS_SYNC))
		die("msync");
	printf("%-28s %8.0f\n", "file: msync", (now_ns() - t0) / (double)pages);
	write_pages("file: write after msync", m, 1);
	munmap((void *)m, pages * PAGE);
	close(fd);
	unlink(path);
}

static int uffd;

/* The synchronous side: unprotect each faulting page, as pageshim's
 * handlers do after marking it written. */
static void *handler(void *arg)
{
	(void)arg;
	for (;;) {
		struct uffd_msg msg;
		if (read(uffd, &msg, sizeof msg) != sizeof msg)
			continue;
		struct uffdio_writeprotect w = {
			.range = { msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1), PAGE } };
		ioctl(uffd, UFFDIO_WRITEPROTECT, &w);
	}
	return NULL;
}

/* Anonymous memory, populated and write-protected under a new userfaultfd
 * with `features`; NULL with errno when the kernel refuses them. */
static char *protected_area(uint64_t features)
{
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0)
		die("userfaultfd");
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	if (ioctl(uffd, UFFDIO_API, &api))
		return NULL;
	char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	madvise(p, pages * PAGE, MADV_NOHUGEPAGE);      /* page by page, as pageshim installs */
	memset(p, 1, pages * PAGE);
	struct uffdio_register reg = { .range = { (uint64_t)p, pages * PAGE },
				       .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .range = reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) || ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		die("write-protecting");
	return p;
}

/* PAGEMAP_SCAN over [p, p + pages): the pages written since the last scan,
 * protected again. Prints ns per page scanned; returns the pages found. */
static size_t collect(const char *name, char *p, int pagemap, struct page_region *vec)
{
	struct pm_scan_arg a = { .size = sizeof a, .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
				 .start = (uint64_t)p, .end = (uint64_t)p + pages * PAGE,
				 .vec = (uint64_t)vec, .vec_len = pages,
				 .category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN };
	double t0 = now_ns();
	long n = ioctl(pagemap, PAGEMAP_SCAN, &a);
	double ns = (now_ns() - t0) / (double)pages;
	if (n < 0)
		die("PAGEMAP_SCAN");
	printf("%-28s %8.0f\n", name, ns);
	size_t found = 0;
	for (long i = 0; i < n; i++)
		found += (vec[i].end - vec[i].start) / PAGE;
	return found;
}

static int uffd_mode(void)
{
	pthread_t t;
	char *p = protected_area(UFFD_FEATURE_PAGEFAULT_FLAG_WP);
	if (!p)
		die("UFFDIO_API with write-protect");
	if (pthread_create(&t, NULL, handler, NULL))
		die("pthread_create");
	write_pages("sync: first write", p, 1);
	write_pages("sync: second write", p, 1);

	p = protected_area(UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_ASYNC);
	if (!p) {
		printf("SKIP: this kernel has no UFFD_FEATURE_WP_ASYNC (Linux 6.7)\n");
		return 77;
	}
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	struct page_region *vec = calloc(pages, sizeof *vec);
	if (pagemap < 0 || !vec)
		die("/proc/self/pagemap");
	write_pages("async: first write", p, 1);
	write_pages("async: second write", p, 1);
	size_t all = collect("async: scan, all written", p, pagemap, vec);
	write_pages("async: write after scan", p, 2);
	size_t half = collect("async: scan, half written", p, pagemap, vec);
	size_t none = collect("async: scan, none written", p, pagemap, vec);
	if (all != pages || half != (pages + 1) / 2 || none != 0) {
		fprintf(stderr, "wpcost: PAGEMAP_SCAN found %zu, %zu and %zu written pages; "
			"expected %zu, %zu and 0\n", all, half, none, pages, (pages + 1) / 2);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "file") && strcmp(argv[1], "uffd")) ||
	    (pages = strtoul(argv[2], NULL, 10)) < 2 || pages > (1u << 20)) {
		fprintf(stderr, "usage: wpcost file|uffd PAGES (2 to 1048576)\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "uffd"))
		return uffd_mode();
	const char *dir = getenv("WPCOST_DIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/wpcost.%d", dir ? dir : ".", (int)getpid());
	file_mode(path);
	return 0;
}
