/* madvise_shared - MADV_DONTNEED and MADV_REMOVE on writable file mappings,
 * as the kernel does them.
 *
 * A 16-page file; the test keeps a model of what it must hold, and after each
 * step the file read through a descriptor of its own must equal it.
 * 1. MADV_REMOVE where the kernel refuses it, EACCES, and nothing changes
 *    (no hole, the mapping's bytes as they were): MAP_SHARED PROT_READ of an
 *    O_RDONLY file, MAP_PRIVATE|PROT_WRITE (a written page keeps its bytes),
 *    MAP_PRIVATE PROT_READ.
 * 2. MAP_PRIVATE|PROT_WRITE: pages 2 and 5 written; MADV_DONTNEED of page 2
 *    gives back the file's bytes there, page 5 stays the program's; of the
 *    whole mapping, page 5 is the file's too. The file never changes.
 * 3. MAP_SHARED|PROT_WRITE of an O_RDWR file: page 2 written, page 10
 *    stored to without a read, page 3 read; MADV_DONTNEED of the whole
 *    mapping, before any msync: every byte is still there, and after msync
 *    in the file. Page 4 written, MADV_DONTNEED of that page alone, then
 *    munmap without msync: the file has it.
 * 4. MADV_REMOVE on MAP_SHARED|PROT_WRITE, pages 4-6 (4 written and not
 *    synced, 5 read, 6 untouched): they read zeros in the mapping and (at
 *    once, before any msync) in the file, which has a hole there (SEEK_HOLE,
 *    SEEK_DATA); pages 3 and 7 (written, not synced) are intact; an msync
 *    does not bring page 4's old bytes back, and the file is then right
 *    everywhere; page 5
 *    written again reaches the file after msync, 4 and 6 read zeros; munmap.
 * 5. MADV_REMOVE on MAP_SHARED PROT_READ of an O_RDWR file: the kernel
 *    allows it (the mapping may be made writable): zeros and a hole.
 * Under pageshim: every mapping managed, the shared writes written back
 * (pages_written_back). */
#include "helpers.h"

#define NP 16
#define LEN (NP * PAGE)
#define SEED 41

static char *path;
static uint8_t model[LEN];      /* what the file must hold */

/* ---- helpers ------------------------------------------------------------- */

/* The file, read through a descriptor of its own, equals the model. */
static void expect_file_model(const char *what)
{
	expect_path_is(path, model, LEN, what);
}

/* [from, to) is a hole with data at `to`. */
static void expect_hole(off_t from, off_t to, const char *what)
{
	DOING(what);
	int fd = xopen(path, O_RDONLY);
	off_t h = lseek(fd, from, SEEK_HOLE), d = lseek(fd, from, SEEK_DATA);
	check(h == from, "%s: lseek(%lld, SEEK_HOLE): expected %lld (a hole), got %lld %s", what,
	      (long long)from, (long long)from, (long long)h, h < 0 ? strerror(errno) : "");
	check(d == to, "%s: lseek(%lld, SEEK_DATA): expected %lld (data after the hole), got %lld %s",
	      what, (long long)from, (long long)to, (long long)d, d < 0 ? strerror(errno) : "");
	ok(close(fd));
}

static void expect_no_hole(const char *what)
{
	DOING(what);
	int fd = xopen(path, O_RDONLY);
	off_t h = lseek(fd, 0, SEEK_HOLE);
	check(h == (off_t)LEN,
	      "%s: lseek(0, SEEK_HOLE): expected %lu (the end: no hole), got %lld %s", what, LEN,
	      (long long)h, h < 0 ? strerror(errno) : "");
	ok(close(fd));
}

static uint8_t *map(int oflags, int prot, int flags)
{
	int fd = xopen(path, oflags);
	uint8_t *m = xmmap(LEN, prot, flags, fd, 0);
	ok(close(fd));
	return m;
}

static void expect_madvise_fails(void *p, size_t len, int advice, int err, const char *what)
{
	DOING(what);
	errno = 0;
	int r = madvise(p, len, advice);
	check(r == -1 && errno == err, "%s: madvise(%p, %zu, %d): expected -1 %s, got %d %s", what, p,
	      len, advice, strerror(err), r, r ? strerror(errno) : "");
}

/* MADV_REMOVE that must succeed; a file system without hole punching skips. */
static void remove_range(void *p, size_t len, const char *what)
{
	DOING(what);
	if (madvise(p, len, MADV_REMOVE) == 0)
		return;
	if (errno == EOPNOTSUPP)
		skip("%s: MADV_REMOVE: %s (no hole punching on this file system)", what,
		     strerror(errno));
	fail("%s: madvise(%p, %zu, MADV_REMOVE): expected 0, got %s", what, p, len, strerror(errno));
}

/* ---- the parts ----------------------------------------------------------- */

static void remove_refused(void)
{
	struct pageshim_stats a, b;
	stats_get(&a);
	uint8_t *s = map(O_RDONLY, PROT_READ, MAP_SHARED);
	touch_pages(s, 0, 8);
	expect_madvise_fails(s + 4 * PAGE, 2 * PAGE, MADV_REMOVE, EACCES,
			     "MADV_REMOVE on MAP_SHARED PROT_READ of an O_RDONLY file");
	expect_bytes(s, model, LEN, "MAP_SHARED of an O_RDONLY file after a refused MADV_REMOVE");

	uint8_t *p = map(O_RDWR, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	touch_pages(p, 0, 8);
	memset(p + 4 * PAGE, 0x44, PAGE);
	expect_madvise_fails(p + 4 * PAGE, 2 * PAGE, MADV_REMOVE, EACCES,
			     "MADV_REMOVE on MAP_PRIVATE|PROT_WRITE");
	uint8_t want[PAGE];
	memset(want, 0x44, PAGE);
	expect_bytes(p + 4 * PAGE, want, PAGE,
		     "MAP_PRIVATE: written page after a refused MADV_REMOVE");
	expect_bytes(p + 5 * PAGE, model + 5 * PAGE, LEN - 5 * PAGE,
		     "MAP_PRIVATE: the rest after a refused MADV_REMOVE");

	uint8_t *r = map(O_RDWR, PROT_READ, MAP_PRIVATE);
	touch_pages(r, 0, 8);
	expect_madvise_fails(r + 4 * PAGE, 2 * PAGE, MADV_REMOVE, EACCES,
			     "MADV_REMOVE on MAP_PRIVATE PROT_READ");
	expect_bytes(r, model, LEN, "MAP_PRIVATE PROT_READ after a refused MADV_REMOVE");
	stats_get(&b);
	expect_managed(&a, &b, 3, "part 1");
	ok(munmap(s, LEN));
	ok(munmap(p, LEN));
	ok(munmap(r, LEN));
	expect_file_model("file after the refused MADV_REMOVEs");
	expect_no_hole("no hole after the refused MADV_REMOVEs");
}

static void private_dontneed(void)
{
	struct pageshim_stats a, b;
	stats_get(&a);
	uint8_t *p = map(O_RDWR, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	touch_pages(p, 0, NP);
	uint8_t mine[PAGE];
	memset(mine, 0x52, PAGE);
	memset(p + 2 * PAGE, 0x52, PAGE);
	memset(p + 5 * PAGE + 8, 0x55, 16);
	DOING("MADV_DONTNEED of a written private page");
	ok(madvise(p + 2 * PAGE, PAGE, MADV_DONTNEED));
	expect_bytes(p + 2 * PAGE, model + 2 * PAGE, PAGE,
		     "MAP_PRIVATE page 2 after MADV_DONTNEED: the file's bytes");
	expect_bytes(p, model, 5 * PAGE + 8, "MAP_PRIVATE pages 0-5 after MADV_DONTNEED of page 2");
	memset(mine, 0x55, 16);
	expect_bytes(p + 5 * PAGE + 8, mine, 16,
		     "MAP_PRIVATE page 5 after MADV_DONTNEED of page 2: still the program's");
	expect_bytes(p + 5 * PAGE + 24, model + 5 * PAGE + 24, LEN - 5 * PAGE - 24,
		     "MAP_PRIVATE pages 5-15 after MADV_DONTNEED of page 2");
	DOING("MADV_DONTNEED of the whole private mapping");
	ok(madvise(p, LEN, MADV_DONTNEED));
	expect_bytes(p, model, LEN, "MAP_PRIVATE after MADV_DONTNEED of all: the file's bytes");
	stats_get(&b);
	expect_managed(&a, &b, 1, "part 2");
	ok(munmap(p, LEN));
	expect_file_model("file after private writes and MADV_DONTNEED");
}

static void shared_dontneed(void)
{
	struct pageshim_stats a, b, c;
	stats_get(&a);
	uint8_t *m = map(O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED);
	touch_pages(m, 0, 8);
	memset(m + 2 * PAGE, 0x62, PAGE);
	memset(model + 2 * PAGE, 0x62, PAGE);
	uint64_t w = 0xfeedfacecafebeefULL;     /* the first touch of page 10 is a store */
	memcpy(m + 10 * PAGE + 800, &w, 8);
	memcpy(model + 10 * PAGE + 800, &w, 8);
	expect_bytes(m, model, LEN, "MAP_SHARED|PROT_WRITE after writes");
	DOING("MADV_DONTNEED of a whole shared writable mapping with unsynced writes");
	ok(madvise(m, LEN, MADV_DONTNEED));
	expect_bytes(m, model, LEN, "MAP_SHARED|PROT_WRITE after MADV_DONTNEED: the writes are kept");
	DOING("msync after MADV_DONTNEED");
	ok(msync(m, LEN, MS_SYNC));
	expect_file_model("file after MADV_DONTNEED and msync");
	stats_get(&b);
	stats_print("part 3 after msync", &b);
	expect_managed(&a, &b, 1, "part 3: MAP_SHARED|PROT_WRITE");
	expect_grew(&a, &b, pages_written_back, 2, "part 3: pages 2 and 10");

	memset(m + 4 * PAGE + 100, 0x64, 200);
	memset(model + 4 * PAGE + 100, 0x64, 200);
	DOING("MADV_DONTNEED of one written shared page");
	ok(madvise(m + 4 * PAGE, PAGE, MADV_DONTNEED));
	expect_bytes(m, model, LEN, "MAP_SHARED|PROT_WRITE after MADV_DONTNEED of page 4");
	DOING("munmap without msync after MADV_DONTNEED");
	ok(munmap(m, LEN));
	expect_file_model("file after munmap (page 4 written, MADV_DONTNEED, no msync)");
	stats_get(&c);
	expect_grew(&b, &c, pages_written_back, 1, "part 3: page 4");
}

static void shared_remove(void)
{
	struct pageshim_stats a, b;
	stats_get(&a);
	uint8_t *m = map(O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED);
	touch_pages(m, 0, 6);
	memset(m + 4 * PAGE, 0x74, PAGE);       /* written, not synced */
	memset(m + 3 * PAGE + PAGE - 8, 0x73, 8);
	memset(model + 3 * PAGE + PAGE - 8, 0x73, 8);
	memset(m + 7 * PAGE, 0x77, 8);
	memset(model + 7 * PAGE, 0x77, 8);
	remove_range(m + 4 * PAGE, 3 * PAGE, "MADV_REMOVE of pages 4-6 of MAP_SHARED|PROT_WRITE");
	memset(model + 4 * PAGE, 0, 3 * PAGE);
	expect_zero(m + 4 * PAGE, 3 * PAGE, "MADV_REMOVE: pages 4-6 in the mapping");
	expect_bytes(m, model, LEN, "MADV_REMOVE: the whole mapping");
	/* The removed range at once; the rest, with page 3's unsynced bytes,
	 * after msync (read coherence before msync is read_coherence's). */
	int fd = xopen(path, O_RDONLY);
	expect_file_is(fd, model + 4 * PAGE, 4 * PAGE, 3 * PAGE,
		       "MADV_REMOVE: pages 4-6 of the file at once");
	ok(close(fd));
	expect_hole(4 * PAGE, 7 * PAGE, "MADV_REMOVE: a hole at pages 4-6");
	DOING("msync after MADV_REMOVE");
	ok(msync(m, LEN, MS_SYNC));
	expect_file_model("MADV_REMOVE then msync: page 4's old bytes must not come back");
	expect_hole(4 * PAGE, 7 * PAGE, "MADV_REMOVE then msync: still a hole at pages 4-6");
	memset(m + 5 * PAGE, 0x75, PAGE);
	memset(model + 5 * PAGE, 0x75, PAGE);
	DOING("msync after a write into the hole");
	ok(msync(m, LEN, MS_SYNC));
	expect_bytes(m, model, LEN, "after a write into the hole");
	expect_file_model("file after a write into the hole and msync");
	/* Whether pages 4 and 6 are still holes is the file system's business
	 * (ext4 may allocate a large folio's blocks at once): bytes only. */
	stats_get(&b);
	stats_print("part 4", &b);
	expect_managed(&a, &b, 1, "part 4: MAP_SHARED|PROT_WRITE");
	ok(munmap(m, LEN));
	expect_file_model("file after munmap");
}

static void shared_read_only_remove(void)
{
	struct pageshim_stats a, b;
	stats_get(&a);
	uint8_t *m = map(O_RDWR, PROT_READ, MAP_SHARED);
	touch_pages(m, 0, NP);
	remove_range(m + 9 * PAGE, 2 * PAGE,
		     "MADV_REMOVE of pages 9-10 of MAP_SHARED PROT_READ (O_RDWR)");
	memset(model + 9 * PAGE, 0, 2 * PAGE);
	expect_bytes(m, model, LEN, "MADV_REMOVE on PROT_READ: the mapping");
	expect_file_model("MADV_REMOVE on PROT_READ: the file");
	expect_hole(9 * PAGE, 11 * PAGE, "MADV_REMOVE on PROT_READ: a hole at pages 9-10");
	stats_get(&b);
	expect_managed(&a, &b, 1, "part 5: MAP_SHARED PROT_READ of an O_RDWR file");
	ok(munmap(m, LEN));
}

int main(void)
{
	t_init(30);
	path = tpath("data");
	make_file(path, LEN, SEED);
	fill_pattern(model, 0, LEN, SEED);
	/* make_file leaves delayed allocation; SEEK_HOLE/SEEK_DATA are exact
	 * on a file whose blocks exist. */
	int fd = xopen(path, O_RDONLY);
	ok(fsync(fd));
	ok(close(fd));
	remove_refused();
	private_dontneed();
	shared_dontneed();
	shared_remove();
	shared_read_only_remove();
	note("madvise: MADV_DONTNEED keeps shared writes and drops private ones; MADV_REMOVE "
	     "punches a hole where the kernel allows it, EACCES elsewhere");
	return 0;
}
