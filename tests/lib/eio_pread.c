/* eio_pread.so - make the reads of one page of one file fail with EIO.
 *
 * Preloaded after the library (LD_PRELOAD="libpageshim.so eio_pread.so"), it
 * is what libpageshim's dlsym(RTLD_NEXT, "pread64") finds, so the library's
 * own reads of that page fail while the program's mappings look normal.
 *
 *   PAGESHIM_TEST_EIO_PATH     the file, as readlink(/proc/self/fd/N) shows it
 *   PAGESHIM_TEST_EIO_OFFSET   a byte offset; its whole 4 KiB page fails
 *
 * Both are read at every call, so a test may setenv() them before it maps.
 * A read of [offset, offset+count) overlapping that page returns -1/EIO
 * (whole, never short: a failed block read); anything else is the real call.
 * eio_pread_injected() tells a test how many reads were failed. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static unsigned long injected;

unsigned long eio_pread_injected(void)
{
	return __atomic_load_n(&injected, __ATOMIC_RELAXED);
}

/* Does a read of count bytes at off (-1: the file position) hit the page? */
static int hits(int fd, off_t off, size_t count)
{
	const char *path = getenv("PAGESHIM_TEST_EIO_PATH");
	const char *o = getenv("PAGESHIM_TEST_EIO_OFFSET");
	if (!path || !o || !count)
		return 0;
	int saved = errno;
	if (off == -1)
		off = lseek(fd, 0, SEEK_CUR);
	uint64_t page = strtoull(o, NULL, 0) & ~4095ULL;
	int hit = 0;
	if (off >= 0 && (uint64_t)off < page + 4096 && (uint64_t)off + count > page) {
		char link[64], target[PATH_MAX];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n > 0) {
			target[n] = 0;
			hit = !strcmp(target, path);
		}
	}
	errno = saved;
	if (hit)
		__atomic_add_fetch(&injected, 1, __ATOMIC_RELAXED);
	return hit;
}

static size_t iov_bytes(const struct iovec *iov, int n)
{
	size_t sum = 0;
	for (int i = 0; i < n; i++)
		sum += iov[i].iov_len;
	return sum;
}

/* The next definition of `name`, found once. */
#define REAL(name)                                                             \
	static __typeof__(name) *real;                                         \
	if (!real)                                                             \
		real = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);            \
	if (!real) {                                                           \
		errno = ENOSYS;                                                \
		return -1;                                                     \
	}

#define EIO_IF(cond)                                                           \
	if (cond) {                                                            \
		errno = EIO;                                                   \
		return -1;                                                     \
	}

ssize_t pread(int fd, void *buf, size_t count, off_t off)
{
	REAL(pread);
	EIO_IF(hits(fd, off, count));
	return real(fd, buf, count, off);
}

ssize_t pread64(int fd, void *buf, size_t count, off64_t off)
{
	REAL(pread64);
	EIO_IF(hits(fd, off, count));
	return real(fd, buf, count, off);
}

ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	REAL(preadv);
	EIO_IF(hits(fd, off, iov_bytes(iov, n)));
	return real(fd, iov, n, off);
}

ssize_t preadv64(int fd, const struct iovec *iov, int n, off64_t off)
{
	REAL(preadv64);
	EIO_IF(hits(fd, off, iov_bytes(iov, n)));
	return real(fd, iov, n, off);
}

ssize_t preadv2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
	REAL(preadv2);
	EIO_IF(hits(fd, off, iov_bytes(iov, n)));
	return real(fd, iov, n, off, flags);
}

ssize_t preadv64v2(int fd, const struct iovec *iov, int n, off64_t off, int flags)
{
	REAL(preadv64v2);
	EIO_IF(hits(fd, off, iov_bytes(iov, n)));
	return real(fd, iov, n, off, flags);
}
