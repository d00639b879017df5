/* mremap_partial - mremap of part of a file mapping: moved, grown, left
 * behind, as under the kernel.
 *
 * Each part maps 16 pages of a 64-page file of its own and writes a few
 * pages through the mapping first (the model follows every write):
 *   1. shared writable: pages [4,8) moved to a chosen address (MREMAP_FIXED)
 *      and grown to 6 pages, so the moved part now also holds file pages 8
 *      and 9, which the rest of the first mapping holds too (page 9 written
 *      there, not yet in the file): the moved part shows that write, and a
 *      write through either mapping shows in the other, as the kernel's one
 *      page cache shows it (pageshim hands such overlapping mappings to the
 *      kernel); the range the part left is unmapped (SIGSEGV);
 *   2. shared writable, without overlap: the last 4 pages grown to 8
 *      (MREMAP_MAYMOVE), pages [2,4) moved elsewhere; every part keeps its
 *      bytes and the grown part reads the file;
 *   3. private writable: pages [2,6), two of them written, moved and grown
 *      to 6: the private bytes move with them, the file is untouched;
 *   4. shared, file open read-only: pages [4,8) moved with
 *      MREMAP_DONTUNMAP: both the moved part and the range left behind read
 *      the file;
 *   5. shared writable, page 5 written: pages [4,8) moved with
 *      MREMAP_DONTUNMAP: the range left behind shows the write too, and a
 *      write through the moved part shows in it.
 *   6. shared writable, two pages written: part of it made read-only, then
 *      writable again; an mremap across the two protections is EFAULT, and
 *      once they agree the whole mapping grows (MREMAP_MAYMOVE) with every
 *      byte, as the kernel, which merged the parts back, does it (pageshim
 *      merges its regions too, and keeps serving the mapping);
 *   7. private writable, two pages written: the same with PROT_NONE, then
 *      the whole moved and grown: the written pages move with it, and
 *      pageshim keeps serving it as one region.
 *   8. shared writable, two pages written: a read-only mprotect of pages
 *      [4,8) undone, and the kernel merged the parts back: pages [2,10), from
 *      the middle of one part into the middle of another, move (MREMAP_FIXED)
 *      with their bytes, and the pages on either side stay (pageshim: three
 *      regions, the moved one whole); then MADV_RANDOM on two pages of the
 *      moved range makes them a mapping of their own (advice is in the
 *      mapping's flags), so growing the range is EFAULT; MADV_NORMAL on
 *      them merges it back (pageshim: three regions again) and it grows.
 * At the end of each part every mapping is synced and unmapped, and the file
 * equals the model (pread on a descriptor of its own). Under pageshim the
 * first mappings of parts 2 to 4 were managed and stayed so. */
#include "helpers.h"

#define FP 64                   /* file pages */
#define MP 16                   /* pages mapped */
#define P(n) ((size_t)(n) * PAGE)

static uint8_t model[P(FP)];
static char *path;
static int fd;

static uint8_t *start_part(int part, int oflags, int prot, int flags)
{
	path = tpath("file%d", part);
	make_file(path, P(FP), 100 + (uint64_t)part);
	fill_pattern(model, 0, sizeof model, 100 + (uint64_t)part);
	fd = xopen(path, oflags);
	return xmmap(P(MP), prot, flags, fd, 0);
}

/* Write byte b over page pg of the file through mapping m at its page at. */
static void store(uint8_t *m, size_t at, size_t pg, uint8_t b, int shared)
{
	memset(m + P(at), b, PAGE);
	if (shared)
		memset(model + P(pg), b, PAGE);
}

/* An address range of n pages for MREMAP_FIXED to land on: reserved, as a
 * program reserves it (an unmapped hole could be taken by any allocation,
 * pageshim's own included, before the mremap). */
static uint8_t *reserve(size_t n)
{
	return xmmap(P(n), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

static uint8_t *xmremap(void *old, size_t old_len, size_t new_len, int flags, void *to, const char *what)
{
	void *q = mremap(old, old_len, new_len, flags, to);
	check(q != MAP_FAILED, "%s: mremap: %s", what, strerror(errno));
	return q;
}

static void end_part(const char *what)
{
	int own = xopen(path, O_RDONLY);
	expect_file_is(own, model, 0, sizeof model, what);
	ok(close(own));
	ok(close(fd));
}

int main(void)
{
	t_init(60);
	struct pageshim_stats a, b;
	uint8_t *m, *q, *q2, *dst;

	DOING("1. shared, moved and grown over the rest");
	m = start_part(1, O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED);
	store(m, 2, 2, 0x21, 1);
	store(m, 6, 6, 0x26, 1);
	store(m, 9, 9, 0x29, 1);
	dst = reserve(8);
	q = xmremap(m + P(4), P(4), P(6), MREMAP_MAYMOVE | MREMAP_FIXED, dst, "1");
	check(q == dst, "1: expected the part at %p, got %p", (void *)dst, (void *)q);
	expect_bytes(q, model + P(4), P(6), "1: the moved part, grown over file pages 8 and 9");
	expect_signal(m + P(4), 0, SIGSEGV, SEGV_MAPERR, "1: the range the part left");
	expect_bytes(m, model, P(4), "1: the head");
	expect_bytes(m + P(8), model + P(8), P(8), "1: the tail");
	store(q, 5, 9, 0x39, 1);
	expect_bytes(m + P(9), model + P(9), PAGE, "1: file page 9 written through the moved part");
	store(m, 8, 8, 0x38, 1);
	expect_bytes(q + P(4), model + P(8), PAGE, "1: file page 8 written through the tail");
	ok(msync(q, P(6), MS_SYNC));
	ok(msync(m + P(8), P(8), MS_SYNC));
	ok(munmap(q, P(6)));
	ok(munmap(m, P(16)));
	end_part("1: the file");

	DOING("2. shared, a tail grown and a piece moved");
	stats_get(&a);
	m = start_part(2, O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED);
	store(m, 1, 1, 0x41, 1);
	store(m, 12, 12, 0x4c, 1);
	q = xmremap(m + P(12), P(4), P(8), MREMAP_MAYMOVE, NULL, "2: tail");
	expect_bytes(q, model + P(12), P(8), "2: the grown tail");
	store(q, 6, 18, 0x52, 1);
	dst = reserve(2);
	q2 = xmremap(m + P(2), P(2), P(2), MREMAP_MAYMOVE | MREMAP_FIXED, dst, "2: piece");
	expect_bytes(q2, model + P(2), P(2), "2: the moved piece");
	expect_signal(m + P(2), 0, SIGSEGV, SEGV_MAPERR, "2: the range the piece left");
	expect_bytes(m, model, P(2), "2: the head");
	expect_bytes(m + P(4), model + P(4), P(8), "2: the middle");
	stats_get(&b);
	expect_managed(&a, &b, 1, "2: the mapping");
	check(!T.shim || b.mappings_live == a.mappings_live + 4,
	      "2: expected 4 managed regions live (head, middle, piece, tail), got %llu",
	      U(b.mappings_live - a.mappings_live));
	ok(munmap(m, P(2)));
	ok(munmap(m + P(4), P(8)));
	ok(munmap(q2, P(2)));
	ok(munmap(q, P(8)));
	end_part("2: the file after munmap");

	DOING("3. private, moved and grown");
	m = start_part(3, O_RDONLY, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	store(m, 3, 3, 0x63, 0);
	store(m, 5, 5, 0x65, 0);
	dst = reserve(6);
	q = xmremap(m + P(2), P(4), P(6), MREMAP_MAYMOVE | MREMAP_FIXED, dst, "3");
	uint8_t want[P(6)];
	memcpy(want, model + P(2), sizeof want);
	memset(want + P(1), 0x63, PAGE);
	memset(want + P(3), 0x65, PAGE);
	expect_bytes(q, want, sizeof want, "3: the moved part: private pages and the file's");
	ok(munmap(q, P(6)));
	ok(munmap(m, P(16)));
	end_part("3: the file, untouched");

	DOING("4. shared read-only, MREMAP_DONTUNMAP");
	stats_get(&a);
	m = start_part(4, O_RDONLY, PROT_READ, MAP_SHARED);
	expect_bytes(m, model, P(MP), "4: before");
	q = xmremap(m + P(4), P(4), P(4), MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL, "4");
	expect_bytes(q, model + P(4), P(4), "4: the moved part");
	expect_bytes(m, model, P(MP), "4: the mapping, with the range left behind");
	stats_get(&b);
	expect_managed(&a, &b, 1, "4: the mapping");
	ok(munmap(q, P(4)));
	ok(munmap(m, P(MP)));
	end_part("4: the file");

	DOING("5. shared writable, MREMAP_DONTUNMAP");
	m = start_part(5, O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED);
	store(m, 5, 5, 0x85, 1);
	q = xmremap(m + P(4), P(4), P(4), MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL, "5");
	expect_bytes(q, model + P(4), P(4), "5: the moved part");
	expect_bytes(m, model, P(MP), "5: the mapping, with the range left behind");
	store(q, 2, 6, 0x86, 1);
	expect_bytes(m + P(6), model + P(6), PAGE, "5: file page 6 written through the moved part");
	ok(msync(q, P(4), MS_SYNC));
	ok(munmap(q, P(4)));
	ok(munmap(m, P(MP)));
	end_part("5: the file");

	DOING("6. shared writable, an mprotect undone, then the whole grown");
	stats_get(&a);
	m = start_part(6, O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED);
	store(m, 1, 1, 0x61, 1);
	store(m, 5, 5, 0x65, 1);
	ok(mprotect(m + P(4), P(4), PROT_READ));
	errno = 0;
	check(mremap(m, P(MP), P(MP + 8), MREMAP_MAYMOVE) == MAP_FAILED && errno == EFAULT,
	      "6: mremap across two protections: expected EFAULT, got %s", strerror(errno));
	ok(mprotect(m + P(4), P(4), PROT_READ | PROT_WRITE));
	q = xmremap(m, P(MP), P(MP + 8), MREMAP_MAYMOVE, NULL, "6");
	expect_bytes(q, model, P(MP + 8), "6: the grown mapping");
	stats_get(&b);
	expect_managed(&a, &b, 1, "6: the mapping");
	check(!T.shim || b.mappings_live == a.mappings_live + 1,
	      "6: expected the regions merged into one, got %llu live", U(b.mappings_live - a.mappings_live));
	store(q, 20, 20, 0x74, 1);
	ok(msync(q, P(MP + 8), MS_SYNC));
	ok(munmap(q, P(MP + 8)));
	end_part("6: the file");

	DOING("7. private written, an mprotect undone, then the whole moved and grown");
	stats_get(&a);
	m = start_part(7, O_RDONLY, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	static uint8_t mine[P(MP + 4)];
	memcpy(mine, model, sizeof mine);
	store(m, 1, 1, 0x71, 0);
	store(m, 3, 3, 0x73, 0);
	memset(mine + P(1), 0x71, PAGE);
	memset(mine + P(3), 0x73, PAGE);
	ok(mprotect(m + P(2), P(2), PROT_NONE));
	ok(mprotect(m + P(2), P(2), PROT_READ | PROT_WRITE));
	dst = reserve(MP + 4);
	q = xmremap(m, P(MP), P(MP + 4), MREMAP_MAYMOVE | MREMAP_FIXED, dst, "7");
	expect_bytes(q, mine, P(MP + 4), "7: the moved mapping, its private writes kept");
	expect_signal(m, 0, SIGSEGV, SEGV_MAPERR, "7: the range it left");
	stats_get(&b);
	expect_managed(&a, &b, 1, "7: the mapping");
	check(!T.shim || b.mappings_live == a.mappings_live + 1,
	      "7: expected the regions merged into one, got %llu live", U(b.mappings_live - a.mappings_live));
	ok(munmap(q, P(MP + 4)));
	end_part("7: the file");

	DOING("8. shared writable, an mprotect undone, a range across the parts moved, then advice on a part");
	stats_get(&a);
	m = start_part(8, O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED);
	store(m, 3, 3, 0x83, 1);
	store(m, 5, 5, 0x85, 1);
	ok(mprotect(m + P(4), P(4), PROT_READ));
	ok(mprotect(m + P(4), P(4), PROT_READ | PROT_WRITE));
	dst = reserve(8);
	q = xmremap(m + P(2), P(8), P(8), MREMAP_MAYMOVE | MREMAP_FIXED, dst, "8");
	expect_bytes(q, model + P(2), P(8), "8: the moved range");
	expect_bytes(m, model, P(2), "8: the pages before it");
	expect_bytes(m + P(10), model + P(10), P(MP - 10), "8: the pages after it");
	expect_signal(m + P(2), 0, SIGSEGV, SEGV_MAPERR, "8: the range it left");
	stats_get(&b);
	expect_managed(&a, &b, 1, "8: the mapping");
	check(!T.shim || b.mappings_live == a.mappings_live + 3,
	      "8: expected three regions live, got %llu", U(b.mappings_live - a.mappings_live));
	ok(madvise(q + P(2), P(2), MADV_RANDOM));
	errno = 0;
	check(mremap(q, P(8), P(10), MREMAP_MAYMOVE) == MAP_FAILED && errno == EFAULT,
	      "8: mremap across two advices: expected EFAULT, got %s", strerror(errno));
	ok(madvise(q + P(2), P(2), MADV_NORMAL));
	stats_get(&b);
	check(!T.shim || b.mappings_live == a.mappings_live + 3,
	      "8: the advice undone: expected three regions live again, got %llu",
	      U(b.mappings_live - a.mappings_live));
	q = xmremap(q, P(8), P(9), MREMAP_MAYMOVE, NULL, "8: grown once its advice agrees again");
	expect_bytes(q, model + P(2), P(9), "8: the grown range");
	store(q, 0, 2, 0x82, 1);
	ok(msync(q, P(9), MS_SYNC));
	ok(munmap(q, P(9)));
	ok(munmap(m, P(2)));
	ok(munmap(m + P(10), P(MP - 10)));
	end_part("8: the file");

	note("mremap_partial: parts of mappings moved, grown and left behind keep every byte");
	return 0;
}
