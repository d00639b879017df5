/* kernel_access - the kernel reading and writing mapped pages for a syscall.
 *
 * Pages never touched in user space are handed to write(2) (pipe and file),
 * writev(2) and an O_DIRECT write (which pins the pages instead of copying);
 * read(2), pread(2), readv(2) and an O_DIRECT read fill untouched pages of a
 * MAP_PRIVATE|PROT_WRITE mapping. The bytes moved must be the file's. A
 * write(2) from a page past EOF fails with EFAULT (or stops short at EOF);
 * no signal. */
#include "helpers.h"

#define NP 64                   /* file pages; the mapping has 2 more past EOF */
#define MAP_LEN ((NP + 2) * PAGE)
enum { SRC = 6, DST = 7, IN = 8 };

static uint8_t *aligned_buf(size_t len)
{
	void *p;
	check(posix_memalign(&p, PAGE, len) == 0, "posix_memalign");
	return p;
}

/* write(2) family from untouched pages of map; returns pages touched. */
static unsigned from_mapping(const uint8_t *map, const char *what)
{
	char msg[128];
	int pfd[2];
	ok(pipe2(pfd, O_CLOEXEC));
	uint8_t *buf = aligned_buf(NP * PAGE);

	ssize_t n = write(pfd[1], map + 5 * PAGE, 3 * PAGE);
	check(n == 3 * PAGE, "%s: write(pipe, pages 5-7): expected %lu, got %zd (%s)", what, 3 * PAGE, n,
	      strerror(errno));
	check(read(pfd[0], buf, 3 * PAGE) == 3 * PAGE, "read back from the pipe");
	snprintf(msg, sizeof msg, "%s: write(pipe)", what);
	expect_pattern(buf, 5 * PAGE, 3 * PAGE, SRC, msg);

	char *out = tpath("out.%s", what);
	int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0, "create %s: %s", out, strerror(errno));
	struct iovec iov[2] = { { (void *)(map + 20 * PAGE), 10 * PAGE }, { (void *)map, 20 * PAGE } };
	n = writev(fd, iov, 2);
	check(n == 30 * PAGE, "%s: writev(file, pages 20-29 and 0-19): expected %lu, got %zd (%s)", what,
	      30 * PAGE, n, strerror(errno));
	n = write(fd, map + 30 * PAGE, (NP - 30) * PAGE);
	check(n == (NP - 30) * (ssize_t)PAGE, "%s: write(file, pages 30-63): expected %lu, got %zd (%s)",
	      what, (NP - 30) * PAGE, n, strerror(errno));
	check(pread(fd, buf, NP * PAGE, 0) == NP * PAGE, "pread %s", out);
	snprintf(msg, sizeof msg, "%s: writev(file)", what);
	expect_pattern(buf, 20 * PAGE, 10 * PAGE, SRC, msg);
	expect_pattern(buf + 10 * PAGE, 0, 20 * PAGE, SRC, msg);
	snprintf(msg, sizeof msg, "%s: write(file)", what);
	expect_pattern(buf + 30 * PAGE, 30 * PAGE, (NP - 30) * PAGE, SRC, msg);
	ok(close(fd));

	/* Past EOF: EFAULT, or a short count that stops at EOF. */
	errno = 0;
	n = write(pfd[1], map + NP * PAGE, PAGE);
	check(n == -1 && errno == EFAULT, "%s: write(pipe, page past EOF): expected -1 EFAULT, got %zd (%s)",
	      what, n, strerror(errno));
	n = write(pfd[1], map + (NP - 1) * PAGE, 2 * PAGE);
	check(n == PAGE || (n == -1 && errno == EFAULT),
	      "%s: write(pipe, last page and one past EOF): expected %lu or -1 EFAULT, got %zd (%s)",
	      what, PAGE, n, n < 0 ? strerror(errno) : "");
	if (n > 0) {
		check(read(pfd[0], buf, (size_t)n) == n, "read back from the pipe");
		snprintf(msg, sizeof msg, "%s: short write(pipe) at EOF", what);
		expect_pattern(buf, (NP - 1) * PAGE, PAGE, SRC, msg);
	}
	note("%s: write(pipe) past EOF returned %zd%s", what, n, n < 0 ? " EFAULT" : "");
	ok(close(pfd[0]));
	ok(close(pfd[1]));
	free(buf);
	return NP;
}

/* O_DIRECT write from untouched pages 40-43: the kernel pins them (GUP). */
static void direct_from_mapping(const uint8_t *map, const char *what)
{
	char *out = tpath("direct.%s", what);
	int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EINVAL) {
		note("%s: O_DIRECT not supported here; case skipped", what);
		return;
	}
	check(fd >= 0, "create %s O_DIRECT: %s", out, strerror(errno));
	ssize_t n = pwrite(fd, map + 40 * PAGE, 4 * PAGE, 0);
	check(n == 4 * PAGE, "%s: O_DIRECT pwrite from pages 40-43: expected %lu, got %zd (%s)", what,
	      4 * PAGE, n, strerror(errno));
	uint8_t *buf = aligned_buf(4 * PAGE);
	check(pread(fd, buf, 4 * PAGE, 0) == 4 * PAGE, "pread %s", out);
	expect_pattern(buf, 40 * PAGE, 4 * PAGE, SRC, what);
	free(buf);
	ok(close(fd));
}

/* read(2) family into untouched pages of a private writable mapping of DST. */
static void into_mapping(const char *dst, const char *in)
{
	int dfd = xopen(dst, O_RDONLY);
	uint8_t *q = xmmap(16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, dfd, 0);
	int ifd = xopen(in, O_RDONLY);

	ssize_t n = read(ifd, q + 2 * PAGE, 4 * PAGE);
	check(n == 4 * PAGE, "read(file, pages 2-5): expected %lu, got %zd (%s)", 4 * PAGE, n,
	      strerror(errno));
	n = pread(ifd, q + 8 * PAGE + 100, 5000, 123);
	check(n == 5000, "pread(file, page 8 + 100, 5000 bytes): expected 5000, got %zd (%s)", n,
	      strerror(errno));
	struct iovec iov[2] = { { q + 7 * PAGE, 10 }, { q + 14 * PAGE, PAGE } };
	n = preadv(ifd, iov, 2, 0);
	check(n == 10 + PAGE, "preadv into pages 7 and 14: expected %lu, got %zd (%s)", 10 + PAGE, n,
	      strerror(errno));
	int direct = open(in, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (direct >= 0) {
		n = pread(direct, q + 11 * PAGE, 2 * PAGE, 0);
		check(n == 2 * PAGE, "O_DIRECT pread into pages 11-12: expected %lu, got %zd (%s)",
		      2 * PAGE, n, strerror(errno));
		ok(close(direct));
	}

	expect_pattern(q, 0, 2 * PAGE, DST, "pages 0-1 (file)");
	expect_pattern(q + 2 * PAGE, 0, 4 * PAGE, IN, "pages 2-5 (read)");
	expect_pattern(q + 6 * PAGE, 6 * PAGE, PAGE, DST, "page 6 (file)");
	expect_pattern(q + 7 * PAGE, 0, 10, IN, "page 7 head (preadv)");
	expect_pattern(q + 7 * PAGE + 10, 7 * PAGE + 10, PAGE - 10, DST, "page 7 rest (file)");
	expect_pattern(q + 8 * PAGE, 8 * PAGE, 100, DST, "page 8 head (file)");
	expect_pattern(q + 8 * PAGE + 100, 123, 5000, IN, "pages 8-9 (pread)");
	expect_pattern(q + 8 * PAGE + 5100, 8 * PAGE + 5100, 2 * PAGE - 5100, DST, "page 9 rest (file)");
	expect_pattern(q + 10 * PAGE, 10 * PAGE, PAGE, DST, "page 10 (file)");
	if (direct >= 0)
		expect_pattern(q + 11 * PAGE, 0, 2 * PAGE, IN, "pages 11-12 (O_DIRECT pread)");
	expect_pattern(q + 13 * PAGE, 13 * PAGE, PAGE, DST, "page 13 (file)");
	expect_pattern(q + 14 * PAGE, 10, PAGE, IN, "page 14 (preadv)");
	expect_pattern(q + 15 * PAGE, 15 * PAGE, PAGE, DST, "page 15 (file)");
	ok(munmap(q, 16 * PAGE));

	/* The file under the private mapping did not change. */
	uint8_t *buf = aligned_buf(16 * PAGE);
	check(pread(dfd, buf, 16 * PAGE, 0) == 16 * PAGE, "pread %s", dst);
	expect_pattern(buf, 0, 16 * PAGE, DST, "the file under the private mapping");
	free(buf);
	ok(close(dfd));
	ok(close(ifd));
}

int main(void)
{
	t_init(60);
	char *src = tpath("src"), *dst = tpath("dst"), *in = tpath("in");
	make_file(src, NP * PAGE, SRC);
	make_file(dst, 16 * PAGE, DST);
	make_file(in, 16 * PAGE, IN);
	static const struct { int flags; const char *name; } kinds[] = {
		{ MAP_SHARED, "MAP_SHARED" },
		{ MAP_PRIVATE, "MAP_PRIVATE" },
	};
	struct pageshim_stats a, b;
	stats_get(&a);
	unsigned touched = 0;
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		int fd = xopen(src, O_RDONLY);
		uint8_t *map = xmmap(MAP_LEN, PROT_READ, kinds[k].flags, fd, 0);
		ok(close(fd));
		direct_from_mapping(map, kinds[k].name);
		touched += from_mapping(map, kinds[k].name);
		ok(munmap(map, MAP_LEN));
	}
	into_mapping(dst, in);
	stats_get(&b);
	stats_print("end", &b);
	expect_managed(&a, &b, ARRAY_SIZE(kinds) + 1, "kernel-access mappings");
	expect_filled(&a, &b, touched, "kernel-access mappings");
	expect_released(&a, &b, "after munmap");
	note("write/writev/O_DIRECT from untouched pages and read/pread/preadv/O_DIRECT into them: right");
	return 0;
}
