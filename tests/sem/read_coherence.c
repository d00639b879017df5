/* read_coherence - reads of the file see what the program wrote through a
 * shared mapping, before any msync, as they do under the kernel.
 *
 * A 64-page file opened O_RDWR and mapped MAP_SHARED|PROT_WRITE. Before each
 * call the program writes new bytes through the mapping (never msync): pages
 * 4-6 and 8-11 wholly, the last 96 bytes of page 3, 100 bytes in page 13;
 * page 7 and the rest of 3 and 13 stay the file's. Then one call reads
 * [page 3 + 100, +10 pages) - on the mapped descriptor and on a second one
 * opened separately - and must return those bytes: read() (and the file
 * position moves), pread(), readv(), preadv(), preadv2(), copy_file_range()
 * into another file (at an offset and at the file position), sendfile() into
 * another file, sendfile() into a pipe (at an offset and at the file
 * position); and, beyond those, splice() into a pipe. The other file is
 * checked by raw pread64, its bytes outside the copy unchanged.
 * Then pwrite() to part of a dirty page (and across a dirty and a clean page,
 * through another descriptor): the mapping shows the pwrite's bytes and the
 * program's earlier mapped writes in the rest of the page; pread agrees; after
 * more mapped writes and msync(MS_SYNC) the file (raw pread64) is the same.
 * Last (the library may hand the file to the kernel then), a second mapping
 * (MAP_SHARED read-only) made while pages are dirty shows the mapped bytes;
 * after munmap the file and a new mapping hold every byte. */
// pageshim-env: PAGESHIM_CACHE_SIZE=16M
#include <sys/sendfile.h>

#include "helpers.h"

#define NP 64
#define SIZE (NP * PAGE)
#define SEED 1
#define R_OFF (3 * PAGE + 100)  /* the range every call reads */
#define R_LEN (10 * PAGE)
#define DST_SEED 50
#define DST_SIZE (16 * PAGE)
#define DST_OFF (2 * PAGE + 5)  /* where copies land in the other file */

/* ---- state -------------------------------------------------------------- */

static char *path, *dst_path;
static int fd;                  /* O_RDWR, the mapping's */
static int fd2;                 /* O_RDWR, opened separately */
static uint8_t *p;              /* the shared writable mapping */
static uint8_t model[SIZE];     /* the file as the program should see it */
static uint8_t dst_model[DST_SIZE];
static uint8_t buf[R_LEN + PAGE];
static uint64_t seed_no = 100;
static char what[200];

#define RET(call, want)                                                        \
	do {                                                                   \
		long r_ = (long)(call);                                        \
		check(r_ == (long)(want), "%s: %s: expected %ld, got %ld (%s)", what, #call, \
		      (long)(want), r_, r_ < 0 ? strerror(errno) : "short");   \
	} while (0)

/* Through the mapping (and the model). */
static void put(uint64_t off, size_t len, uint64_t seed)
{
	fill_pattern(p + off, off, len, seed);
	fill_pattern(model + off, off, len, seed);
}

/* New dirty bytes in and around the range, none synced. */
static void dirty(void)
{
	uint64_t s = seed_no++;
	put(3 * PAGE + PAGE - 96, 96, s);
	for (uint64_t pg = 4; pg <= 11; pg++)
		if (pg != 7)
			put(pg * PAGE, PAGE, s);
	put(13 * PAGE + 200, 100, s);
}

static void expect_range(const void *got, const char *call)
{
	char msg[260];
	snprintf(msg, sizeof msg, "%s: bytes %s returned", what, call);
	expect_bytes(got, model + R_OFF, R_LEN, msg);
}

/* The other file holds the range at DST_OFF and its own bytes around it. */
static void expect_dst(const char *call)
{
	static uint8_t d[DST_SIZE];
	char msg[260];
	memcpy(dst_model + DST_OFF, model + R_OFF, R_LEN);
	int f = xopen(dst_path, O_RDONLY);
	raw_pread(f, d, DST_SIZE, 0, what);
	ok(close(f));
	snprintf(msg, sizeof msg, "%s: the other file after %s", what, call);
	expect_bytes(d, dst_model, DST_SIZE, msg);
}

static int open_dst(void)
{
	make_file(dst_path, DST_SIZE, DST_SEED);
	fill_pattern(dst_model, 0, DST_SIZE, DST_SEED);
	return xopen(dst_path, O_RDWR);
}

/* ---- the calls: each reads [R_OFF, R_OFF + R_LEN) of f ---- */

static void op_read(int f)
{
	RET(lseek(f, R_OFF, SEEK_SET), R_OFF);
	RET(read(f, buf, R_LEN), R_LEN);
	expect_range(buf, "read()");
	RET(lseek(f, 0, SEEK_CUR), R_OFF + R_LEN);
}

static void op_pread(int f)
{
	RET(pread(f, buf, R_LEN, R_OFF), R_LEN);
	expect_range(buf, "pread()");
}

static void op_readv(int f)
{
	struct iovec iov[3] = { { buf, 1000 }, { buf + 1000, 2 * PAGE }, { buf + 1000 + 2 * PAGE, R_LEN - 1000 - 2 * PAGE } };
	RET(lseek(f, R_OFF, SEEK_SET), R_OFF);
	RET(readv(f, iov, 3), R_LEN);
	expect_range(buf, "readv()");
	RET(lseek(f, 0, SEEK_CUR), R_OFF + R_LEN);
}

static void op_preadv(int f)
{
	struct iovec iov[2] = { { buf, 5 * PAGE + 7 }, { buf + 5 * PAGE + 7, R_LEN - 5 * PAGE - 7 } };
	RET(preadv(f, iov, 2, R_OFF), R_LEN);
	expect_range(buf, "preadv()");
}

static void op_preadv2(int f)
{
	struct iovec iov[2] = { { buf, 3 * PAGE }, { buf + 3 * PAGE, R_LEN - 3 * PAGE } };
	RET(preadv2(f, iov, 2, R_OFF, 0), R_LEN);
	expect_range(buf, "preadv2()");
}

static void op_copy_file_range(int f)
{
	int dst = open_dst();
	loff_t in = R_OFF, out = DST_OFF;
	for (size_t done = 0; done < R_LEN;) {
		ssize_t n = copy_file_range(f, &in, dst, &out, R_LEN - done, 0);
		check(n > 0, "%s: copy_file_range returned %zd after %zu bytes: %s", what, n, done,
		      n < 0 ? strerror(errno) : "end of file");
		done += (size_t)n;
	}
	RET(in, R_OFF + R_LEN);
	ok(close(dst));
	expect_dst("copy_file_range()");
}

static void op_copy_file_range_pos(int f)
{
	int dst = open_dst();
	RET(lseek(f, R_OFF, SEEK_SET), R_OFF);
	RET(lseek(dst, DST_OFF, SEEK_SET), DST_OFF);
	for (size_t done = 0; done < R_LEN;) {
		ssize_t n = copy_file_range(f, NULL, dst, NULL, R_LEN - done, 0);
		check(n > 0, "%s: copy_file_range returned %zd after %zu bytes: %s", what, n, done,
		      n < 0 ? strerror(errno) : "end of file");
		done += (size_t)n;
	}
	RET(lseek(f, 0, SEEK_CUR), R_OFF + R_LEN);
	ok(close(dst));
	expect_dst("copy_file_range() at the file position");
}

static void op_sendfile_file(int f)
{
	int dst = open_dst();
	RET(lseek(dst, DST_OFF, SEEK_SET), DST_OFF);
	off_t in = R_OFF;
	for (size_t done = 0; done < R_LEN;) {
		ssize_t n = sendfile(dst, f, &in, R_LEN - done);
		check(n > 0, "%s: sendfile returned %zd after %zu bytes: %s", what, n, done,
		      n < 0 ? strerror(errno) : "end of file");
		done += (size_t)n;
	}
	ok(close(dst));
	expect_dst("sendfile() into a file");
}

/* Drain exactly R_LEN bytes of a pipe into buf. */
static void drain(int rfd)
{
	for (size_t done = 0; done < R_LEN;) {
		ssize_t n = read(rfd, buf + done, R_LEN - done);
		check(n > 0, "%s: read from the pipe after %zu bytes: %zd (%s)", what, done, n,
		      n < 0 ? strerror(errno) : "end");
		done += (size_t)n;
	}
}

static void op_sendfile_pipe(int f)
{
	int pp[2];
	ok(pipe2(pp, O_CLOEXEC));
	off_t in = R_OFF;
	RET(sendfile(pp[1], f, &in, R_LEN), R_LEN);     /* 40 KiB fits the 64 KiB pipe */
	drain(pp[0]);
	ok(close(pp[0]));
	ok(close(pp[1]));
	expect_range(buf, "sendfile() into a pipe");
}

static void op_sendfile_pipe_pos(int f)
{
	int pp[2];
	ok(pipe2(pp, O_CLOEXEC));
	RET(lseek(f, R_OFF, SEEK_SET), R_OFF);
	RET(sendfile(pp[1], f, NULL, R_LEN), R_LEN);
	RET(lseek(f, 0, SEEK_CUR), R_OFF + R_LEN);
	drain(pp[0]);
	ok(close(pp[0]));
	ok(close(pp[1]));
	expect_range(buf, "sendfile() into a pipe at the file position");
}

static void op_splice(int f)
{
	int pp[2];
	ok(pipe2(pp, O_CLOEXEC));
	loff_t in = R_OFF;
	RET(splice(f, &in, pp[1], NULL, R_LEN, 0), R_LEN);
	drain(pp[0]);
	ok(close(pp[0]));
	ok(close(pp[1]));
	expect_range(buf, "splice() into a pipe");
}

static void op_second_mapping(int f)
{
	uint8_t *q = xmmap(SIZE, PROT_READ, MAP_SHARED, f, 0);
	expect_range(q + R_OFF, "a second MAP_SHARED mapping");
	ok(munmap(q, SIZE));
}

static const struct { const char *name; void (*run)(int); } ops[] = {
	{ "read", op_read },
	{ "pread", op_pread },
	{ "readv", op_readv },
	{ "preadv", op_preadv },
	{ "preadv2", op_preadv2 },
	{ "copy_file_range", op_copy_file_range },
	{ "copy_file_range at the file position", op_copy_file_range_pos },
	{ "sendfile into a file", op_sendfile_file },
	{ "sendfile into a pipe", op_sendfile_pipe },
	{ "sendfile into a pipe at the file position", op_sendfile_pipe_pos },
	/* beyond the calls the brief lists */
	{ "splice into a pipe", op_splice },
};

int main(void)
{
	t_init(60);
	path = tpath("data");
	dst_path = tpath("dst");
	make_file(path, SIZE, SEED);
	fill_pattern(model, 0, SIZE, SEED);
	fd = xopen(path, O_RDWR);
	fd2 = xopen(path, O_RDWR);

	struct pageshim_stats a, b, c;
	stats_get(&a);
	p = xmmap(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	expect_bytes(p, model, SIZE, "first read of the mapping");
	stats_get(&b);
	expect_managed(&a, &b, 1, "the shared writable mapping");

	const struct { int *f; const char *name; } fds[] = {
		{ &fd, "the mapped descriptor" }, { &fd2, "a second descriptor" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		for (size_t k = 0; k < ARRAY_SIZE(fds); k++) {
			dirty();
			snprintf(what, sizeof what, "%s on %s, over dirty pages", ops[i].name, fds[k].name);
			DOING(what);
			ops[i].run(*fds[k].f);
			expect_bytes(p, model, SIZE, what);     /* and the mapping is as written */
		}

	/* ---- pwrite into dirty pages ---- */
	snprintf(what, sizeof what, "pwrite into dirty pages");
	stats_get(&b);  /* before the pages are dirtied: write-back may happen any time after */
	put(20 * PAGE, 2000, 200);                      /* page 20: [0, 2000) dirty */
	put(21 * PAGE, PAGE, 201);                      /* page 21 dirty; 22 clean (read above) */
	fill_pattern(buf, 20 * PAGE + 1000, 100, 202);
	RET(pwrite(fd, buf, 100, 20 * PAGE + 1000), 100);
	fill_pattern(model + 20 * PAGE + 1000, 20 * PAGE + 1000, 100, 202);
	fill_pattern(buf, 22 * PAGE - 150, 300, 203);   /* across pages 21 and 22 */
	RET(pwrite(fd2, buf, 300, 22 * PAGE - 150), 300);
	fill_pattern(model + 22 * PAGE - 150, 22 * PAGE - 150, 300, 203);
	expect_bytes(p + 20 * PAGE, model + 20 * PAGE, 3 * PAGE,
		     "the mapping after pwrite into dirty pages (pwrite's bytes, the mapped writes around them)");
	RET(pread(fd2, buf, 3 * PAGE, 20 * PAGE), 3 * PAGE);
	expect_bytes(buf, model + 20 * PAGE, 3 * PAGE, "pread after pwrite into dirty pages");
	put(20 * PAGE + 3000, 100, 204);                /* more mapped writes on the page */
	put(20 * PAGE + 1050, 10, 205);                 /* over the pwrite's bytes */
	expect_bytes(p, model, SIZE, "the mapping after more writes");
	snprintf(what, sizeof what, "msync(MS_SYNC)");
	RET(msync(p, SIZE, MS_SYNC), 0);
	stats_get(&c);
	{
		static uint8_t f[SIZE];
		raw_pread(fd2, f, SIZE, 0, what);
		expect_bytes(f, model, SIZE, "the file (raw pread64) after msync(MS_SYNC)");
	}
	expect_grew(&b, &c, pages_written_back, 2, "writes to pages 20-21, then msync");

	/* Last, as the library may hand both mappings to the kernel: a second
	 * mapping made while pages of the first are dirty. */
	for (size_t k = 0; k < ARRAY_SIZE(fds); k++) {
		dirty();
		snprintf(what, sizeof what, "a second mapping of %s, over dirty pages", fds[k].name);
		op_second_mapping(*fds[k].f);
		expect_bytes(p, model, SIZE, what);
	}
	ok(munmap(p, SIZE));
	{
		static uint8_t f[SIZE];
		snprintf(what, sizeof what, "munmap");
		raw_pread(fd2, f, SIZE, 0, what);
		expect_bytes(f, model, SIZE, "the file (raw pread64) after munmap");
	}
	p = xmmap(SIZE, PROT_READ, MAP_SHARED, fd2, 0);
	expect_bytes(p, model, SIZE, "a new mapping after munmap");
	ok(munmap(p, SIZE));

	ok(close(fd));
	ok(close(fd2));
	stats_get(&c);
	stats_print("end", &c);
	expect_released(&a, &c, "after munmap");
	note("%zu calls on two descriptors over dirty pages saw the mapped bytes; pwrite into dirty pages kept both",
	     ARRAY_SIZE(ops));
	return 0;
}
