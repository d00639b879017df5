/* errno_contract - every intercepted call fails and succeeds as the kernel's.
 *
 * One line per case: the call, and the errno it must fail with, or success
 * with errno left as it was (set to a sentinel first). The calls act on a
 * managed mapping (m: MAP_SHARED read-only, pm: MAP_PRIVATE read/write) and
 * on descriptors of the mapped file, so the library's own paths run. A
 * failed call must leave no mapping behind. */
#include <sys/uio.h>

#include "helpers.h"

#define SENTINEL 4242
#define NP 8
#define LEN (NP * PAGE)
#define SEED 8

static int cases;

#define FAILS(expr, err)                                                               \
	do {                                                                           \
		errno = SENTINEL;                                                      \
		long r_ = (long)(expr);                                                \
		int e_ = errno;                                                        \
		cases++;                                                               \
		check(r_ == -1 && e_ == (err), "%s: expected -1 %s, got %ld %s", #expr, \
		      strerrorname_np(err), r_, r_ == -1 ? strerrorname_np(e_) : "");  \
	} while (0)

#define SUCCEEDS(expr)                                                                 \
	({                                                                             \
		errno = SENTINEL;                                                      \
		long r_ = (long)(expr);                                                \
		int e_ = errno;                                                        \
		cases++;                                                               \
		check(r_ != -1, "%s: expected success, got -1 %s", #expr,              \
		      strerrorname_np(e_));                                            \
		check(e_ == SENTINEL, "%s: succeeded but changed errno from %d to %d (%s)", \
		      #expr, SENTINEL, e_, strerrorname_np(e_));                       \
		r_;                                                                    \
	})

/* posix_madvise returns the error number and leaves errno alone. */
#define RETURNS(expr, want)                                                            \
	do {                                                                           \
		errno = SENTINEL;                                                      \
		int r_ = (expr);                                                       \
		cases++;                                                               \
		check(r_ == (want) && errno == SENTINEL,                               \
		      "%s: expected %d (%s) and errno %d untouched, got %d and errno %d", \
		      #expr, (want), (want) ? strerrorname_np(want) : "0", SENTINEL, r_, errno); \
	} while (0)

int main(void)
{
	t_init(60);
	char *path = tpath("data"), *wpath = tpath("wonly"), *other = tpath("other"), *same = tpath("same");
	make_file(path, LEN, SEED);
	make_file(same, LEN, SEED);
	make_file(wpath, LEN, SEED + 1);
	make_file(other, LEN, SEED + 2);
	int ro = xopen(path, O_RDONLY), rw = xopen(path, O_RDWR), wo = xopen(wpath, O_WRONLY);
	int src = xopen(other, O_RDONLY), opath = xopen(path, O_PATH), dir = xopen(T.dir, O_RDONLY);
	int closed = fcntl(ro, F_DUPFD_CLOEXEC, 900), pfd[2];  /* a number nothing reuses */
	ok(close(closed));
	ok(pipe2(pfd, O_CLOEXEC));
	uint8_t *hole = xmmap(MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok(munmap(hole, MiB));  /* an address range known to be unmapped */
	uint8_t buf[PAGE];
	fill_pattern(buf, 0, PAGE, SEED);
	struct iovec iov = { buf, PAGE };
	volatile int negative = -1;   /* hidden from the compiler's bounds checks */

	struct pageshim_stats a, b, c;
	stats_get(&a);
	uint8_t *m = (uint8_t *)SUCCEEDS(mmap(NULL, LEN, PROT_READ, MAP_SHARED, ro, 0));
	uint8_t *pm = (uint8_t *)SUCCEEDS(mmap64(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0));
	uint8_t *r = (uint8_t *)SUCCEEDS(mmap(NULL, LEN, PROT_READ, MAP_PRIVATE, ro, 0));
	stats_get(&b);
	expect_managed(&a, &b, 3, "successful mmaps");
	/* Shared, whatever the library makes of it: mprotect to write must fail. */
	uint8_t *v = (uint8_t *)SUCCEEDS(mmap(NULL, LEN, PROT_READ, MAP_SHARED_VALIDATE, ro, 0));
	FAILS(mprotect(v, PAGE, PROT_READ | PROT_WRITE), EACCES);
	expect_file(ro, m, 0, LEN, "MAP_SHARED");
	expect_file(ro, pm, 0, LEN, "MAP_PRIVATE|PROT_WRITE");
	expect_file(ro, v, 0, LEN, "MAP_SHARED_VALIDATE");
	expect_file(ro, r, 0, LEN, "MAP_PRIVATE");

	/* mmap / mmap64 */
	FAILS(mmap(NULL, LEN, PROT_READ, MAP_SHARED, ro, 100), EINVAL);
	FAILS(mmap64(NULL, LEN, PROT_READ, MAP_PRIVATE, ro, PAGE + 1), EINVAL);
	FAILS(mmap(NULL, 0, PROT_READ, MAP_SHARED, ro, 0), EINVAL);
	FAILS(mmap(NULL, LEN, PROT_READ, 0, ro, 0), EINVAL);
	FAILS(mmap(NULL, LEN, PROT_READ, MAP_SHARED, wo, 0), EACCES);
	FAILS(mmap(NULL, LEN, PROT_READ, MAP_PRIVATE, wo, 0), EACCES);
	FAILS(mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	FAILS(mmap(NULL, LEN, PROT_READ, MAP_SHARED, -1, 0), EBADF);
	FAILS(mmap(NULL, LEN, PROT_READ, MAP_SHARED, closed, 0), EBADF);
	FAILS(mmap(NULL, LEN, PROT_READ, MAP_SHARED, opath, 0), EBADF);
	FAILS(mmap(NULL, LEN, PROT_READ, MAP_SHARED, pfd[0], 0), ENODEV);
	FAILS(mmap(NULL, LEN, PROT_READ, MAP_PRIVATE, dir, 0), ENODEV);
	FAILS(mmap(NULL, LEN, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, ro, 0), EOPNOTSUPP);
	FAILS(mmap(hole + 1, LEN, PROT_READ, MAP_SHARED | MAP_FIXED, ro, 0), EINVAL);
	FAILS(mmap(m, LEN, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, ro, 0), EEXIST);
	FAILS(mmap(NULL, 1UL << 62, PROT_READ, MAP_SHARED, ro, 0), ENOMEM);
	FAILS(mmap(NULL, LEN, PROT_READ, MAP_SHARED, ro, -(off_t)PAGE), EOVERFLOW);

	/* munmap */
	FAILS(munmap(m + 1, PAGE), EINVAL);
	FAILS(munmap(m, 0), EINVAL);
	SUCCEEDS(munmap(hole, PAGE));           /* nothing there: not an error */
	SUCCEEDS(munmap(v, LEN));
	SUCCEEDS(munmap(r + 6 * PAGE, 2 * PAGE));

	/* mprotect */
	FAILS(mprotect(m + 1, PAGE, PROT_READ), EINVAL);
	FAILS(mprotect(hole, PAGE, PROT_READ), ENOMEM);
	FAILS(mprotect(m, PAGE, PROT_READ | PROT_WRITE), EACCES);
	FAILS(mprotect(m, PAGE, 0x100), EINVAL);
	SUCCEEDS(mprotect(pm, PAGE, PROT_READ));
	SUCCEEDS(mprotect(pm, PAGE, PROT_READ | PROT_WRITE));

	/* madvise: the answers for a file mapping, not for anonymous memory.
	 * The library may have mapped memory of its own since (mprotect splits
	 * its regions): a new hole. */
	hole = xmmap(MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok(munmap(hole, MiB));
	FAILS(madvise(m, PAGE, 12345), EINVAL);
	FAILS(madvise(m + 1, PAGE, MADV_NORMAL), EINVAL);
	FAILS(madvise(hole, PAGE, MADV_NORMAL), ENOMEM);
	FAILS(madvise(hole, PAGE, MADV_WILLNEED), ENOMEM);
	FAILS(madvise(m, PAGE, MADV_FREE), EINVAL);
	FAILS(madvise(pm, PAGE, MADV_FREE), EINVAL);
	FAILS(madvise(m, PAGE, MADV_WIPEONFORK), EINVAL);
	FAILS(madvise(pm, PAGE, MADV_WIPEONFORK), EINVAL);
	FAILS(madvise(m, PAGE, MADV_REMOVE), EACCES);
	FAILS(madvise(m, PAGE, MADV_POPULATE_WRITE), EINVAL);
	SUCCEEDS(madvise(m, 0, MADV_NORMAL));
	SUCCEEDS(madvise(m, LEN, MADV_WILLNEED));
	SUCCEEDS(madvise(pm, LEN, MADV_SEQUENTIAL));

	/* posix_madvise */
	RETURNS(posix_madvise(m, PAGE, 12345), EINVAL);
	RETURNS(posix_madvise(m + 1, PAGE, POSIX_MADV_NORMAL), EINVAL);
	RETURNS(posix_madvise(hole, PAGE, POSIX_MADV_NORMAL), ENOMEM);
	RETURNS(posix_madvise(m, LEN, POSIX_MADV_RANDOM), 0);
	RETURNS(posix_madvise(pm, LEN, POSIX_MADV_DONTNEED), 0);

	/* msync */
	FAILS(msync(m + 1, PAGE, MS_SYNC), EINVAL);
	FAILS(msync(m, PAGE, MS_SYNC | MS_ASYNC), EINVAL);
	FAILS(msync(m, PAGE, 8), EINVAL);
	FAILS(msync(hole, PAGE, MS_SYNC), ENOMEM);
	SUCCEEDS(msync(m, LEN, MS_SYNC));
	SUCCEEDS(msync(pm, LEN, MS_ASYNC | MS_INVALIDATE));

	/* mremap */
	FAILS(mremap(m + 1, PAGE, PAGE, 0), EINVAL);
	FAILS(mremap(m, PAGE, 0, 0), EINVAL);
	FAILS(mremap(hole, PAGE, PAGE, 0), EFAULT);
	FAILS(mremap(m, PAGE, PAGE, 0x80), EINVAL);
	SUCCEEDS(mremap(r, 6 * PAGE, 4 * PAGE, 0));

	/* the write family on the mapped file (the library watches these) */
	FAILS(write(ro, buf, 1), EBADF);
	FAILS(write(-1, buf, 1), EBADF);
	FAILS(write(rw, (void *)hole, 1), EFAULT);
	FAILS(pwrite(rw, buf, 1, -1), EINVAL);
	FAILS(pwrite(pfd[1], buf, 1, 0), ESPIPE);
	FAILS(pwrite64(ro, buf, 1, 0), EBADF);
	FAILS(writev(rw, &iov, negative), EINVAL);
	FAILS(pwritev(ro, &iov, 1, 0), EBADF);
	FAILS(pwritev2(rw, &iov, 1, 0, 0x10000), EOPNOTSUPP);
	FAILS(ftruncate(ro, 0), EINVAL);
	FAILS(ftruncate(rw, -1), EINVAL);
	FAILS(ftruncate(-1, 0), EBADF);
	FAILS(truncate(tpath("no such file"), 0), ENOENT);
	FAILS(truncate(T.dir, 0), EISDIR);
	FAILS(fallocate(ro, 0, 0, PAGE), EBADF);
	FAILS(fallocate(rw, 0x100, 0, PAGE), EOPNOTSUPP);
	FAILS(fallocate(rw, 0, -1, PAGE), EINVAL);
	FAILS(fallocate(rw, 0, 0, 0), EINVAL);
	FAILS(copy_file_range(closed, NULL, rw, NULL, 10, 0), EBADF);
	FAILS(copy_file_range(src, NULL, ro, NULL, 10, 0), EBADF);
	FAILS(copy_file_range(src, NULL, rw, NULL, 10, 1), EINVAL);
	/* Successful writes of the bytes already there: errno untouched. */
	SUCCEEDS(pwrite(rw, buf, PAGE, 0));
	SUCCEEDS(pwrite64(rw, buf, 100, 0));
	SUCCEEDS(pwritev(rw, &iov, 1, 0));
	SUCCEEDS(pwritev2(rw, &iov, 1, 0, 0));
	SUCCEEDS(lseek(rw, 0, SEEK_SET));
	SUCCEEDS(write(rw, buf, PAGE));
	SUCCEEDS(lseek(rw, 0, SEEK_SET));
	SUCCEEDS(writev(rw, &iov, 1));
	SUCCEEDS(ftruncate(rw, LEN));
	SUCCEEDS(truncate(path, LEN));
	SUCCEEDS(fallocate(rw, FALLOC_FL_KEEP_SIZE, 0, LEN));
	int samefd = xopen(same, O_RDONLY);
	loff_t in = 0, out = 0;
	SUCCEEDS(copy_file_range(samefd, &in, rw, &out, PAGE, 0));

	expect_file(ro, m, 0, LEN, "MAP_SHARED after the calls");
	expect_file(ro, pm, 0, LEN, "MAP_PRIVATE|PROT_WRITE after the calls");
	expect_file(ro, r, 0, 4 * PAGE, "MAP_PRIVATE after mremap");
	expect_signal(r + 4 * PAGE, 0, SIGSEGV, SEGV_MAPERR, "MAP_PRIVATE past its mremap shrink");
	expect_signal(v, 0, SIGSEGV, SEGV_MAPERR, "MAP_SHARED_VALIDATE after munmap");
	expect_signal(hole, 0, SIGSEGV, SEGV_MAPERR, "no mapping left by the failed calls");
	SUCCEEDS(munmap(m, LEN));
	SUCCEEDS(munmap(pm, LEN));
	SUCCEEDS(munmap(r, 4 * PAGE));
	stats_get(&c);
	stats_print("end", &c);
	expect_released(&a, &c, "after the failed calls and the munmaps");
	note("%d cases: errno as the kernel's, errno untouched on success", cases);
	return 0;
}
