/* coherence - mapped pages follow the program's own writes to the file.
 *
 * A 16-page file is mapped 64 pages long (4x, as LMDB maps) three ways:
 * MAP_SHARED read-only, MAP_PRIVATE read-only, MAP_PRIVATE|PROT_WRITE with
 * pages 1 and 3 written by the program. Every page is touched first. Then
 * one call at a time changes the file: pwrite, lseek+write, lseek+writev,
 * pwritev, pwritev2 (at an offset and at the file position), pwrite through
 * a second descriptor (O_DSYNC, opened by a hard link's name), O_APPEND
 * write, pwrite past EOF, ftruncate grow and shrink, truncate(path),
 * fallocate (punch hole, extend), copy_file_range (at an offset and at the
 * file position). After each call, at once, every page of every view is what
 * the kernel shows: the file's bytes (a direct pread) up to EOF, zeros to the
 * end of that page, SIGBUS (BUS_ADRERR, right address) past it; the pages
 * the program wrote keep its bytes (a shrink past them discards them, and
 * MADV_DONTNEED brings back the file as it is now). */
#include <sys/uio.h>

#include "helpers.h"

#define NP 16                   /* file pages at the start */
#define MAPP (4 * NP)           /* mapping pages */
#define SEED 10

static struct view {
	const char *name;
	int prot, flags;
	uint8_t *p;
	uint8_t *mine[MAPP];    /* the program's bytes of a written private page */
} views[] = {
	{ "MAP_SHARED", PROT_READ, MAP_SHARED },
	{ "MAP_PRIVATE", PROT_READ, MAP_PRIVATE },
	{ "MAP_PRIVATE|PROT_WRITE", PROT_READ | PROT_WRITE, MAP_PRIVATE },
};
#define SHARED (&views[0])
#define PRIVW (&views[2])

static char *path, *link_path, *src_path;
static int rw;                  /* the descriptor most calls use */
static uint8_t buf[8 * PAGE];
static unsigned sigbus;

/* buf = the bytes seed `seed` has at [off, off+len). */
static void *bytes(uint64_t off, size_t len, int seed)
{
	check(len <= sizeof buf, "bytes: %zu too long", len);
	fill_pattern(buf, off, len, seed);
	return buf;
}

#define RET(call, want)                                                        \
	do {                                                                   \
		long r_ = (long)(call);                                        \
		check(r_ == (long)(want), "%s: expected %ld, got %ld (%s)", #call, \
		      (long)(want), r_, r_ < 0 ? strerror(errno) : "short");   \
	} while (0)

/* Right after a call: the shared view shows [off, off+len) of seed (or zeros). */
static void shows(uint64_t off, size_t len, int seed, const char *what)
{
	if (seed)
		expect_pattern(SHARED->p + off, off, len, seed, what);
	else
		expect_zero(SHARED->p + off, len, what);
}

/* Every page of every view against the file as it is now. */
static void verify(const char *what)
{
	int fd = xopen(path, O_RDONLY);
	uint64_t size = file_size(fd);
	char msg[160];
	for (size_t v = 0; v < ARRAY_SIZE(views); v++) {
		struct view *w = &views[v];
		for (uint64_t pg = 0; pg < MAPP; pg++) {
			uint8_t *p = w->p + pg * PAGE;
			snprintf(msg, sizeof msg, "after %s: %s page %llu (file size %llu)", what, w->name,
				 U(pg), U(size));
			if (w->mine[pg]) {
				expect_bytes(p, w->mine[pg], PAGE, msg);
			} else if (pg * PAGE < size) {
				size_t in = size - pg * PAGE < PAGE ? size - pg * PAGE : PAGE;
				expect_file(fd, p, pg * PAGE, in, msg);
				expect_zero(p + in, PAGE - in, msg);
			} else {
				expect_signal(p + (pg * 40) % PAGE, 0, SIGBUS, BUS_ADRERR, msg);
				sigbus++;
			}
		}
	}
	ok(close(fd));
}

/* A shrink to `size` discards written private pages wholly past it. */
static void shrunk(uint64_t size)
{
	for (uint64_t pg = (size + PAGE - 1) / PAGE; pg < MAPP; pg++) {
		free(PRIVW->mine[pg]);
		PRIVW->mine[pg] = NULL;
	}
}

static void op_pwrite(void)
{
	RET(pwrite(rw, bytes(3 * PAGE + 1000, 5000, 501), 5000, 3 * PAGE + 1000), 5000);
	shows(3 * PAGE + 1000, 5000, 501, "pwrite");
}

/* A written private page dropped after the file changed under it: the
 * next read is the file as it is now, not as it was. */
static void op_dontneed_private(void)
{
	ok(madvise(PRIVW->p + 3 * PAGE, PAGE, MADV_DONTNEED));
	free(PRIVW->mine[3]);
	PRIVW->mine[3] = NULL;
	expect_pattern(PRIVW->p + 3 * PAGE + 1000, 3 * PAGE + 1000, PAGE - 1000, 501,
		       "private page 3 after MADV_DONTNEED (the pwrite's bytes)");
}

static void op_write(void)
{
	RET(lseek(rw, 6 * PAGE + 10, SEEK_SET), 6 * PAGE + 10);
	RET(write(rw, bytes(6 * PAGE + 10, 8000, 502), 8000), 8000);
	shows(6 * PAGE + 10, 8000, 502, "lseek+write");
}

static void op_writev(void)
{
	uint64_t off = 9 * PAGE - 50;
	bytes(off, 100 + PAGE, 503);
	struct iovec iov[2] = { { buf, 100 }, { buf + 100, PAGE } };
	RET(lseek(rw, (off_t)off, SEEK_SET), off);
	RET(writev(rw, iov, 2), 100 + PAGE);
	shows(off, 100 + PAGE, 503, "lseek+writev");
}

static void op_pwritev(void)
{
	bytes(2 * PAGE, 3 * PAGE, 504);
	struct iovec iov[3] = { { buf, 10 }, { buf + 10, PAGE }, { buf + 10 + PAGE, 2 * PAGE - 10 } };
	RET(pwritev(rw, iov, 3, 2 * PAGE), 3 * PAGE);
	shows(2 * PAGE, 3 * PAGE, 504, "pwritev");
}

static void op_pwritev2(void)
{
	struct iovec iov = { bytes(11 * PAGE + 8, PAGE, 505), PAGE };
	RET(pwritev2(rw, &iov, 1, 11 * PAGE + 8, 0), PAGE);
	shows(11 * PAGE + 8, PAGE, 505, "pwritev2");
}

static void op_pwritev2_pos(void)
{
	struct iovec iov = { bytes(12 * PAGE, 2 * PAGE, 506), 2 * PAGE };
	RET(lseek(rw, 12 * PAGE, SEEK_SET), 12 * PAGE);
	RET(pwritev2(rw, &iov, 1, -1, 0), 2 * PAGE);       /* -1: at the file position */
	shows(12 * PAGE, 2 * PAGE, 506, "pwritev2 at the file position");
}

static void op_other_fd(void)
{
	int fd2 = xopen(link_path, O_WRONLY | O_DSYNC);
	RET(pwrite(fd2, bytes(PAGE, 2 * PAGE, 507), 2 * PAGE, PAGE), 2 * PAGE);
	shows(PAGE, 2 * PAGE, 507, "pwrite through a second descriptor");
	ok(close(fd2));
}

static void op_append(void)
{
	int fd2 = xopen(path, O_WRONLY | O_APPEND);
	RET(write(fd2, bytes(NP * PAGE, 3000, 508), 3000), 3000);
	shows(NP * PAGE, 3000, 508, "O_APPEND write");
	ok(close(fd2));
}

static void op_pwrite_past_eof(void)
{
	RET(pwrite(rw, bytes(24 * PAGE + 100, 2 * PAGE, 509), 2 * PAGE, 24 * PAGE + 100), 2 * PAGE);
	shows(24 * PAGE + 100, 2 * PAGE, 509, "pwrite past EOF");
	shows(20 * PAGE, 4 * PAGE, 0, "the hole before it");
}

static void op_ftruncate_grow(void)
{
	uint64_t old = file_size(rw);
	RET(ftruncate(rw, 40 * PAGE + 100), 0);
	shows(old, 40 * PAGE + 100 - old, 0, "ftruncate grow");
}

static void op_ftruncate_shrink(void)
{
	RET(ftruncate(rw, 10 * PAGE + 500), 0);
	shrunk(10 * PAGE + 500);
	shows(10 * PAGE + 500, PAGE - 500, 0, "ftruncate shrink: the new last page");
	expect_signal(SHARED->p + 11 * PAGE, 0, SIGBUS, BUS_ADRERR, "ftruncate shrink: next page");
	sigbus++;
}

static void op_punch(void)
{
	RET(fallocate(rw, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * PAGE, 2 * PAGE), 0);
	shows(2 * PAGE, 2 * PAGE, 0, "punch hole");
}

static void op_punch_unaligned(void)
{
	RET(fallocate(rw, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5 * PAGE + 100, 5000), 0);
	shows(5 * PAGE + 100, 5000, 0, "unaligned punch hole");
}

static void op_copy(void)
{
	int src = xopen(src_path, O_RDONLY);
	loff_t in = 0, out = 4 * PAGE + 8;
	RET(copy_file_range(src, &in, rw, &out, 3 * PAGE, 0), 3 * PAGE);
	expect_pattern(SHARED->p + 4 * PAGE + 8, 0, 3 * PAGE, 600, "copy_file_range");
	ok(close(src));
}

static void op_copy_pos(void)
{
	int src = xopen(src_path, O_RDONLY);
	RET(lseek(src, PAGE, SEEK_SET), PAGE);
	RET(lseek(rw, 8 * PAGE, SEEK_SET), 8 * PAGE);
	RET(copy_file_range(src, NULL, rw, NULL, PAGE + 77, 0), PAGE + 77);
	expect_pattern(SHARED->p + 8 * PAGE, PAGE, PAGE + 77, 600, "copy_file_range at the file position");
	ok(close(src));
}

static void op_truncate_path(void)
{
	RET(truncate(path, 8 * PAGE + 1), 0);
	shrunk(8 * PAGE + 1);
	verify("truncate(path) shrink");
	RET(truncate(path, 20 * PAGE), 0);
	shows(8 * PAGE + 1, 12 * PAGE - 1, 0, "truncate(path) grow");
}

static void op_fallocate_extend(void)
{
	uint64_t old = file_size(rw);
	RET(fallocate(rw, 0, (off_t)old, 3 * PAGE), 0);
	shows(old, 3 * PAGE, 0, "fallocate extend");
}

static void op_shrink_to_zero(void)
{
	RET(ftruncate(rw, 0), 0);
	shrunk(0);
	verify("ftruncate to 0");
	RET(pwrite(rw, bytes(0, 5 * PAGE, 510), 5 * PAGE, 0), 5 * PAGE);
	shows(0, 5 * PAGE, 510, "pwrite after truncation to 0");
}

static const struct { const char *name; void (*run)(void); } ops[] = {
	{ "pwrite", op_pwrite },
	{ "MADV_DONTNEED of a written private page", op_dontneed_private },
	{ "lseek+write", op_write },
	{ "lseek+writev", op_writev },
	{ "pwritev", op_pwritev },
	{ "pwritev2", op_pwritev2 },
	{ "pwritev2 at the file position", op_pwritev2_pos },
	{ "pwrite through an O_DSYNC descriptor", op_other_fd },
	{ "O_APPEND write", op_append },
	{ "pwrite past EOF", op_pwrite_past_eof },
	{ "ftruncate grow", op_ftruncate_grow },
	{ "ftruncate shrink", op_ftruncate_shrink },
	{ "punch hole", op_punch },
	{ "unaligned punch hole", op_punch_unaligned },
	{ "copy_file_range", op_copy },
	{ "copy_file_range at the file position", op_copy_pos },
	{ "truncate(path)", op_truncate_path },
	{ "fallocate extend", op_fallocate_extend },
	{ "ftruncate to 0", op_shrink_to_zero },
};

int main(void)
{
	t_init(100);
	path = tpath("data");
	link_path = tpath("data.link");
	src_path = tpath("src");
	make_file(path, NP * PAGE, SEED);
	make_file(src_path, 4 * PAGE, 600);
	ok(link(path, link_path));
	rw = xopen(path, O_RDWR);

	struct pageshim_stats a, b, c;
	stats_get(&a);
	for (size_t v = 0; v < ARRAY_SIZE(views); v++) {
		views[v].p = xmmap(MAPP * PAGE, views[v].prot, views[v].flags, rw, 0);
		expect_pattern(views[v].p, 0, NP * PAGE, SEED, views[v].name);  /* touch all */
	}
	for (int pg = 1; pg <= 3; pg += 2) {
		PRIVW->mine[pg] = malloc(PAGE);
		fill_pattern(PRIVW->mine[pg], 0, PAGE, 700 + pg);
		memcpy(PRIVW->p + pg * PAGE, PRIVW->mine[pg], PAGE);
	}
	verify("setup");
	stats_get(&b);
	expect_managed(&a, &b, ARRAY_SIZE(views), "three views");
	expect_filled(&a, &b, NP, "three views");

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		ops[i].run();
		verify(ops[i].name);
	}
	stats_get(&b);
	stats_print("after the calls", &b);
	if (T.shim) {
		check(b.coherence_updates > a.coherence_updates,
		      "expected coherence_updates to grow, got %llu -> %llu", U(a.coherence_updates),
		      U(b.coherence_updates));
		check(b.sigbus_raised - a.sigbus_raised >= sigbus,
		      "expected sigbus_raised to grow by >= %u, got %llu -> %llu", sigbus,
		      U(a.sigbus_raised), U(b.sigbus_raised));
	}
	for (size_t v = 0; v < ARRAY_SIZE(views); v++)
		ok(munmap(views[v].p, MAPP * PAGE));
	stats_get(&c);
	expect_released(&a, &c, "after munmap");
	note("%zu calls, three views right after each; %u SIGBUS past EOF", ARRAY_SIZE(ops), sigbus);
	return 0;
}
