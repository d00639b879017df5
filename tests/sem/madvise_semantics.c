/* madvise_semantics - madvise, posix_madvise, mprotect, msync and mremap on
 * file mappings, as the kernel does them.
 *
 * S is MAP_SHARED read-only, P MAP_PRIVATE|PROT_WRITE with pages 2 and 3
 * written by the program, of a 32-page file. MADV_DONTNEED gives P's page 2
 * back the file's bytes and changes nothing visible in S; the other advice
 * succeeds and changes no byte (a written private page survives even
 * MADV_PAGEOUT); posix_madvise(POSIX_MADV_DONTNEED) is a no-op. mprotect:
 * write on a shared mapping of an O_RDONLY file is EACCES; PROT_NONE makes
 * touched and untouched pages SIGSEGV (SEGV_ACCERR) until PROT_READ is back.
 * msync succeeds (MS_SYNC|MS_ASYNC is EINVAL). mremap: a shrink drops the
 * tail (SEGV_MAPERR), a grow with MREMAP_MAYMOVE works with every byte right
 * or fails with ENOMEM, and a move to a fixed address carries every byte. */
#include "helpers.h"

#define NP 32
#define LEN (NP * PAGE)
#define SEED 12

static char *path;
static uint8_t mine2[PAGE], mine3[PAGE];

static uint8_t *map(int prot, int flags, size_t len)
{
	int fd = xopen(path, O_RDONLY);
	uint8_t *p = xmmap(len, prot, flags, fd, 0);
	ok(close(fd));
	return p;
}

/* S is the file; P is the file but for the pages in `mine`. */
static void expect_s(const uint8_t *s, size_t pages, const char *what)
{
	expect_pattern(s, 0, pages * PAGE, SEED, what);
}

static void expect_p(const uint8_t *p, int has2, int has3, const char *what)
{
	expect_pattern(p, 0, 2 * PAGE, SEED, what);
	if (has2)
		expect_bytes(p + 2 * PAGE, mine2, PAGE, what);
	else
		expect_pattern(p + 2 * PAGE, 2 * PAGE, PAGE, SEED, what);
	if (has3)
		expect_bytes(p + 3 * PAGE, mine3, PAGE, what);
	else
		expect_pattern(p + 3 * PAGE, 3 * PAGE, PAGE, SEED, what);
	expect_pattern(p + 4 * PAGE, 4 * PAGE, LEN - 4 * PAGE, SEED, what);
}

static void test_madvise(void)
{
	uint8_t *s = map(PROT_READ, MAP_SHARED, LEN);
	uint8_t *p = map(PROT_READ | PROT_WRITE, MAP_PRIVATE, LEN);
	expect_s(s, NP, "S touched");
	memcpy(p + 2 * PAGE, mine2, PAGE);
	memcpy(p + 3 * PAGE, mine3, PAGE);
	expect_p(p, 1, 1, "P written");

	ok(madvise(p + 2 * PAGE, PAGE, MADV_DONTNEED));
	expect_p(p, 0, 1, "P page 2 after MADV_DONTNEED (the file's bytes again)");
	ok(madvise(s, LEN, MADV_DONTNEED));
	expect_s(s, NP, "S after MADV_DONTNEED");

	static const struct { int advice; const char *name; } advice[] = {
		{ MADV_WILLNEED, "MADV_WILLNEED" }, { MADV_RANDOM, "MADV_RANDOM" },
		{ MADV_SEQUENTIAL, "MADV_SEQUENTIAL" }, { MADV_NORMAL, "MADV_NORMAL" },
		{ MADV_POPULATE_READ, "MADV_POPULATE_READ" }, { MADV_COLD, "MADV_COLD" },
		{ MADV_PAGEOUT, "MADV_PAGEOUT" }, { MADV_DONTFORK, "MADV_DONTFORK" },
		{ MADV_DOFORK, "MADV_DOFORK" }, { MADV_HUGEPAGE, "MADV_HUGEPAGE" },
		{ MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(advice); i++) {
		ok(madvise(s, LEN, advice[i].advice));
		expect_s(s, NP, advice[i].name);
		ok(madvise(p, LEN, advice[i].advice));
		expect_p(p, 0, 1, advice[i].name);
	}
	ok(madvise(p + 8 * PAGE, 8 * PAGE, MADV_POPULATE_WRITE));
	expect_p(p, 0, 1, "P after MADV_POPULATE_WRITE");

	memcpy(p + 2 * PAGE, mine2, PAGE);
	int r = posix_madvise(p, LEN, POSIX_MADV_DONTNEED);
	check(r == 0, "posix_madvise(POSIX_MADV_DONTNEED): expected 0, got %d", r);
	expect_p(p, 1, 1, "P after posix_madvise(POSIX_MADV_DONTNEED) (a no-op in glibc)");
	r = posix_madvise(s, LEN, POSIX_MADV_WILLNEED);
	check(r == 0, "posix_madvise(POSIX_MADV_WILLNEED): expected 0, got %d", r);
	expect_s(s, NP, "S after posix_madvise(POSIX_MADV_WILLNEED)");

	/* msync */
	ok(msync(s, LEN, MS_SYNC));
	ok(msync(s, LEN, MS_INVALIDATE));
	ok(msync(s, LEN, MS_ASYNC));
	ok(msync(p, LEN, MS_SYNC | MS_INVALIDATE));
	errno = 0;
	check(msync(s, LEN, MS_SYNC | MS_ASYNC) == -1 && errno == EINVAL,
	      "msync(MS_SYNC|MS_ASYNC): expected -1 EINVAL, got errno %d", errno);
	expect_s(s, NP, "S after msync");
	expect_p(p, 1, 1, "P after msync(MS_INVALIDATE)");
	ok(munmap(s, LEN));
	ok(munmap(p, LEN));
}

static void test_mprotect(void)
{
	uint8_t *s = map(PROT_READ, MAP_SHARED, LEN);
	expect_s(s, 4, "S pages 0-3 touched");
	errno = 0;
	check(mprotect(s, LEN, PROT_READ | PROT_WRITE) == -1 && errno == EACCES,
	      "mprotect(PROT_WRITE) of MAP_SHARED from O_RDONLY: expected -1 EACCES, got errno %d", errno);
	expect_signal(s + 2 * PAGE + 1, 1, SIGSEGV, SEGV_ACCERR, "write to read-only S, touched page");
	expect_signal(s + 9 * PAGE + 1, 1, SIGSEGV, SEGV_ACCERR, "write to read-only S, untouched page");

	ok(mprotect(s + 2 * PAGE, 8 * PAGE, PROT_NONE));       /* pages 2-3 touched, 4-9 not */
	for (int pg = 2; pg < 10; pg += 3)
		expect_signal(s + pg * PAGE + 100, 0, SIGSEGV, SEGV_ACCERR, "read of PROT_NONE page");
	expect_s(s, 2, "pages 0-1 beside the PROT_NONE range");
	expect_pattern(s + 10 * PAGE, 10 * PAGE, LEN - 10 * PAGE, SEED, "pages 10- beside PROT_NONE");
	ok(mprotect(s + 2 * PAGE, 8 * PAGE, PROT_READ));
	expect_s(s, NP, "S back to PROT_READ");
	ok(munmap(s, LEN));

	/* A private read-only mapping may become writable; the file stays. */
	uint8_t *r = map(PROT_READ, MAP_PRIVATE, LEN);
	expect_s(r, 2, "private read-only touched");
	ok(mprotect(r, LEN, PROT_READ | PROT_WRITE));
	memcpy(r + 3 * PAGE, mine3, PAGE);
	memcpy(r, mine2, PAGE);
	expect_bytes(r, mine2, PAGE, "written page 0 after mprotect RW");
	expect_bytes(r + 3 * PAGE, mine3, PAGE, "written page 3 after mprotect RW");
	expect_pattern(r + PAGE, PAGE, 2 * PAGE, SEED, "pages 1-2");
	expect_pattern(r + 4 * PAGE, 4 * PAGE, LEN - 4 * PAGE, SEED, "pages 4-");
	ok(mprotect(r, LEN, PROT_READ));
	expect_bytes(r + 3 * PAGE, mine3, PAGE, "written page 3 back to PROT_READ");
	int fd = xopen(path, O_RDONLY);
	uint8_t buf[PAGE];
	check(pread(fd, buf, PAGE, 3 * PAGE) == PAGE, "pread");
	expect_pattern(buf, 3 * PAGE, PAGE, SEED, "the file under the private mapping");
	ok(close(fd));
	ok(munmap(r, LEN));
}

static void test_mremap(void)
{
	/* Shrink in place. */
	uint8_t *m = map(PROT_READ, MAP_SHARED, LEN);
	expect_s(m, 4, "before shrink");
	uint8_t *q = mremap(m, LEN, LEN / 2, 0);
	check(q == m, "mremap shrink: expected %p, got %p (%s)", (void *)m, (void *)q, strerror(errno));
	expect_s(m, NP / 2, "after shrink");
	expect_signal(m + NP / 2 * PAGE, 0, SIGSEGV, SEGV_MAPERR, "the tail after mremap shrink");
	expect_signal(m + LEN - 1, 0, SIGSEGV, SEGV_MAPERR, "the tail after mremap shrink");
	ok(munmap(m, LEN / 2));

	/* Grow, allowed to move; a written private page goes along. */
	static const struct { int prot, flags; const char *name; } kinds[] = {
		{ PROT_READ, MAP_SHARED, "MAP_SHARED" },
		{ PROT_READ | PROT_WRITE, MAP_PRIVATE, "MAP_PRIVATE|PROT_WRITE" },
	};
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		int priv = kinds[k].flags == MAP_PRIVATE;
		m = map(kinds[k].prot, kinds[k].flags, LEN / 2);
		expect_s(m, 2, "before grow");
		if (priv)
			memcpy(m + 3 * PAGE, mine3, PAGE);
		/* Something right after it, so that the grow must move. */
		uint8_t *after = mmap(m + LEN / 2, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		q = mremap(m, LEN / 2, LEN, MREMAP_MAYMOVE);
		if (q == MAP_FAILED) {
			check(errno == ENOMEM, "%s: mremap grow: expected success or ENOMEM, got %s",
			      kinds[k].name, strerror(errno));
			note("%s: mremap grow failed with ENOMEM (accepted)", kinds[k].name);
			q = m;
		} else {
			note("%s: mremap grow worked (%s)", kinds[k].name, q == m ? "in place" : "moved");
			expect_p(q, 0, priv, "after mremap grow");
			if (q != m && (q + LEN <= m || q >= m + LEN / 2))
				expect_signal(m, 0, SIGSEGV, SEGV_MAPERR, "the old address after a move");
			ok(munmap(q, LEN));
		}
		if (after != MAP_FAILED)
			ok(munmap(after, PAGE));
	}

	/* Move to a fixed address. */
	m = map(PROT_READ | PROT_WRITE, MAP_PRIVATE, LEN);
	memcpy(m + 3 * PAGE, mine3, PAGE);
	expect_s(m, 2, "before the fixed move");
	uint8_t *target = xmmap(LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q = mremap(m, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	check(q == target, "mremap MREMAP_FIXED: expected %p, got %p (%s)", (void *)target, (void *)q,
	      strerror(errno));
	expect_p(q, 0, 1, "after the move to a fixed address");
	expect_signal(m, 0, SIGSEGV, SEGV_MAPERR, "the old address after MREMAP_FIXED");
	ok(munmap(q, LEN));
}

int main(void)
{
	t_init(60);
	path = tpath("data");
	make_file(path, LEN, SEED);
	fill_pattern(mine2, 0, PAGE, 77);
	fill_pattern(mine3, 0, PAGE, 78);
	struct pageshim_stats a, b;
	stats_get(&a);
	test_madvise();
	test_mprotect();
	test_mremap();
	stats_get(&b);
	stats_print("end", &b);
	expect_managed(&a, &b, 8, "advised mappings");
	expect_filled(&a, &b, NP, "advised mappings");
	expect_released(&a, &b, "after munmap");
	note("madvise, posix_madvise, mprotect, msync and mremap: bytes and errors as the kernel's");
	return 0;
}
