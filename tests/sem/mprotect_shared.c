/* mprotect_shared - mprotect on MAP_SHARED file mappings, as the kernel does it.
 *
 * A 16-page file.
 * 1. Opened O_RDONLY, mapped MAP_SHARED PROT_READ, pages 0-7 read:
 *    mprotect(PROT_READ|PROT_WRITE) of the whole mapping and of one page is
 *    EACCES; a write is SIGSEGV (SEGV_ACCERR); every byte is the file's.
 * 2. Opened O_RDWR, mapped MAP_SHARED PROT_READ, pages 0-7 read:
 *    - a write is SIGSEGV (SEGV_ACCERR);
 *    - mprotect(PROT_READ|PROT_WRITE) succeeds; pages 2 (read before) and
 *      12 (never touched) get new bytes, page 6 one word stored without a
 *      read of its own; after msync(MS_SYNC) a pread of a second descriptor
 *      shows them;
 *    - page 3 and page 13 written, not synced; mprotect(PROT_NONE): reads of
 *      a written, a read-only-touched and an untouched page, and a write,
 *      are SIGSEGV (SEGV_ACCERR);
 *    - mprotect(PROT_READ): every byte is intact, those written before
 *      PROT_NONE too; a write is SIGSEGV (SEGV_ACCERR) and changes nothing;
 *      msync, and the file has pages 3 and 13.
 * 3. Opened O_RDWR, MAP_SHARED PROT_READ; mprotect(PROT_READ|PROT_WRITE) of
 *    pages 4-7 only: a write to page 5 works, to pages 3 and 8 is SIGSEGV
 *    (SEGV_ACCERR); back to PROT_READ, munmap without msync, and the file
 *    has page 5 (munmap writes back).
 * After each part the file equals a model kept by the test.
 * Under pageshim: every mapping managed (a read-only shared mapping made
 * writable stays managed), pages filled, and the written pages written
 * back (pages_written_back). */
#include "helpers.h"

#define NP 16
#define LEN (NP * PAGE)
#define SEED 31

static char *path;
static uint8_t model[LEN];      /* what the file must hold */

/* ---- helpers ------------------------------------------------------------- */

/* The file, read through a descriptor of its own, equals the model. */
static void expect_file_model(const char *what)
{
	expect_path_is(path, model, LEN, what);
}

/* Store `b` over [off, off+len) of m and of the model. */
static void store(uint8_t *m, size_t off, size_t len, uint8_t b)
{
	memset(m + off, b, len);
	memset(model + off, b, len);
}

static void expect_mprotect_fails(void *p, size_t len, int prot, int err, const char *what)
{
	DOING(what);
	errno = 0;
	int r = mprotect(p, len, prot);
	check(r == -1 && errno == err, "%s: mprotect(%p, %zu, %#x): expected -1 %s, got %d %s", what,
	      p, len, prot, strerror(err), r, r ? strerror(errno) : "");
}

/* ---- the parts ----------------------------------------------------------- */

static void read_only_file(void)
{
	struct pageshim_stats a, b;
	stats_get(&a);
	int fd = xopen(path, O_RDONLY);
	uint8_t *m = xmmap(LEN, PROT_READ, MAP_SHARED, fd, 0);
	ok(close(fd));
	touch_pages(m, 0, 8);
	expect_mprotect_fails(m, LEN, PROT_READ | PROT_WRITE, EACCES,
			      "O_RDONLY file, whole mapping made writable");
	expect_mprotect_fails(m + 9 * PAGE, PAGE, PROT_READ | PROT_WRITE, EACCES,
			      "O_RDONLY file, one untouched page made writable");
	expect_mprotect_fails(m + 2 * PAGE, PAGE, PROT_WRITE, EACCES,
			      "O_RDONLY file, one page made PROT_WRITE");
	expect_signal(m + 2 * PAGE + 5, 1, SIGSEGV, SEGV_ACCERR, "O_RDONLY file: write after EACCES");
	expect_signal(m + 10 * PAGE, 1, SIGSEGV, SEGV_ACCERR,
		      "O_RDONLY file: write to an untouched page");
	expect_bytes(m, model, LEN, "O_RDONLY file: mapping after the refusals");
	stats_get(&b);
	expect_managed(&a, &b, 1, "O_RDONLY file, MAP_SHARED PROT_READ");
	expect_filled(&a, &b, 8, "O_RDONLY file, MAP_SHARED PROT_READ");
	ok(munmap(m, LEN));
	expect_file_model("file after part 1");
}

static void read_write_file(void)
{
	struct pageshim_stats a, b, c;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	uint8_t *m = xmmap(LEN, PROT_READ, MAP_SHARED, fd, 0);
	ok(close(fd));
	touch_pages(m, 0, 8);
	expect_signal(m + 2 * PAGE, 1, SIGSEGV, SEGV_ACCERR, "O_RDWR file, PROT_READ: write");
	stats_get(&b);
	expect_managed(&a, &b, 1, "O_RDWR file, MAP_SHARED PROT_READ");

	DOING("mprotect(PROT_READ|PROT_WRITE) of a shared mapping of an O_RDWR file");
	ok(mprotect(m, LEN, PROT_READ | PROT_WRITE));
	store(m, 2 * PAGE, PAGE, 0x22);                 /* read before */
	store(m, 12 * PAGE + 100, PAGE - 200, 0x2c);    /* never touched: part of it */
	uint64_t w = 0x0123456789abcdefULL;             /* a store is the first touch */
	memcpy(m + 6 * PAGE + 64, &w, 8);
	memcpy(model + 6 * PAGE + 64, &w, 8);
	expect_bytes(m, model, LEN, "mapping after writes under PROT_READ|PROT_WRITE");
	DOING("msync after the first writes");
	ok(msync(m, LEN, MS_SYNC));
	expect_file_model("file after msync of pages 2, 6, 12");
	stats_get(&c);
	stats_print("after the first msync", &c);
	expect_grew(&b, &c, pages_written_back, 3, "msync of pages 2, 6 and 12");

	store(m, 3 * PAGE, PAGE, 0x33);                 /* read before */
	store(m, 13 * PAGE, 8, 0x3d);                   /* never touched */
	DOING("mprotect(PROT_NONE) with pages written and not synced");
	ok(mprotect(m, LEN, PROT_NONE));
	expect_signal(m + 3 * PAGE + 7, 0, SIGSEGV, SEGV_ACCERR, "PROT_NONE: read of a written page");
	expect_signal(m + 1 * PAGE, 0, SIGSEGV, SEGV_ACCERR, "PROT_NONE: read of a read page");
	expect_signal(m + 14 * PAGE + 9, 0, SIGSEGV, SEGV_ACCERR,
		      "PROT_NONE: read of an untouched page");
	expect_signal(m + 3 * PAGE, 1, SIGSEGV, SEGV_ACCERR, "PROT_NONE: write");
	expect_signal_in_thread(m + 13 * PAGE, 0, SIGSEGV, SEGV_ACCERR,
				"PROT_NONE: read from another thread");

	DOING("mprotect(PROT_READ) back");
	ok(mprotect(m, LEN, PROT_READ));
	expect_bytes(m, model, LEN, "PROT_READ again: every byte, the unsynced writes too");
	expect_signal(m + 3 * PAGE + 1, 1, SIGSEGV, SEGV_ACCERR, "PROT_READ again: write");
	expect_signal(m + 15 * PAGE, 1, SIGSEGV, SEGV_ACCERR,
		      "PROT_READ again: write to an untouched page");
	expect_bytes(m, model, LEN, "PROT_READ again: after the refused writes");
	DOING("msync after PROT_NONE and back");
	ok(msync(m, LEN, MS_SYNC));
	expect_file_model("file after msync of pages 3 and 13 (written before PROT_NONE)");
	stats_get(&b);
	stats_print("after the second msync", &b);
	expect_grew(&c, &b, pages_written_back, 2, "msync of pages 3 and 13");
	ok(munmap(m, LEN));
	expect_file_model("file after munmap");
}

static void part_of_mapping(void)
{
	struct pageshim_stats a, b;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	uint8_t *m = xmmap(LEN, PROT_READ, MAP_SHARED, fd, 0);
	ok(close(fd));
	touch_pages(m, 0, NP);
	DOING("mprotect(PROT_READ|PROT_WRITE) of pages 4-7");
	ok(mprotect(m + 4 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE));
	store(m, 5 * PAGE + 1000, 2000, 0x55);
	expect_signal(m + 4 * PAGE - 1, 1, SIGSEGV, SEGV_ACCERR,
		      "pages 4-7 writable: write to page 3");
	expect_signal(m + 8 * PAGE, 1, SIGSEGV, SEGV_ACCERR, "pages 4-7 writable: write to page 8");
	expect_bytes(m, model, LEN, "mapping with pages 4-7 writable");
	DOING("mprotect(PROT_READ) of pages 4-7");
	ok(mprotect(m + 4 * PAGE, 4 * PAGE, PROT_READ));
	expect_signal(m + 5 * PAGE + 1000, 1, SIGSEGV, SEGV_ACCERR,
		      "pages 4-7 read-only again: write to page 5");
	expect_bytes(m, model, LEN, "mapping with pages 4-7 read-only again");
	stats_get(&b);
	expect_managed(&a, &b, 1, "O_RDWR file, MAP_SHARED PROT_READ, part made writable");
	DOING("munmap without msync");
	ok(munmap(m, LEN));
	expect_file_model("file after munmap of a mapping whose page 5 was written (no msync)");
	stats_get(&a);
	expect_grew(&b, &a, pages_written_back, 1, "munmap with page 5 written");
}

int main(void)
{
	t_init(30);
	path = tpath("data");
	make_file(path, LEN, SEED);
	fill_pattern(model, 0, LEN, SEED);
	read_only_file();
	read_write_file();
	part_of_mapping();
	note("mprotect: EACCES for an O_RDONLY file; writable, PROT_NONE and back for an O_RDWR "
	     "file, every byte kept and written back");
	return 0;
}
