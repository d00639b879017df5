/* private_writes - private pages the program wrote are never lost.
 *
 * MAP_PRIVATE|PROT_WRITE of a file 4x the cache budget (64M, budget 16M).
 * Every even page gets the program's own bytes (seed 2), across the whole
 * mapping, so 32M of written pages exceed the budget, and every other odd
 * page one word stored without a read first (the rest must be the file's,
 * not zeros); then all pages are
 * read, forwards and backwards, while the odd pages (the file's) churn
 * through the cache: written pages keep the program's bytes, unwritten pages
 * equal the file, and the file itself is unchanged. */
// pageshim-env: PAGESHIM_CACHE_SIZE=16M
#include "helpers.h"

#define FILE_SIZE (64 * MiB)
#define NPAGES (FILE_SIZE / PAGE)
#define FILE_SEED 1
#define MY_SEED 2

/* Even pages: all the program's. Pages 1 mod 4: the file's, but for one
 * word at WORD the program stored without reading the page first. Pages 3
 * mod 4: the file's. */
#define WORD 16
static void check_all(const uint8_t *p, int backwards, const char *what)
{
	for (uint64_t i = 0; i < NPAGES; i++) {
		uint64_t pg = backwards ? NPAGES - 1 - i : i;
		const uint8_t *q = p + pg * PAGE;
		if (pg % 4 != 1) {
			expect_pattern(q, pg * PAGE, PAGE, pg % 2 ? FILE_SEED : MY_SEED, what);
			continue;
		}
		expect_pattern(q, pg * PAGE, WORD, FILE_SEED, what);
		expect_pattern(q + WORD, pg * PAGE + WORD, 8, MY_SEED, what);
		expect_pattern(q + WORD + 8, pg * PAGE + WORD + 8, PAGE - WORD - 8, FILE_SEED, what);
	}
}

int main(void)
{
	t_init(100);
	char *path = tpath("data");
	make_file(path, FILE_SIZE, FILE_SEED);
	struct pageshim_stats a, b, c;
	stats_get(&a);
	int fd = xopen(path, O_RDONLY);
	uint8_t *p = xmmap(FILE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);

	for (uint64_t pg = 0; pg < NPAGES; pg += 2) {
		fill_pattern(p + pg * PAGE, pg * PAGE, PAGE, MY_SEED);
		/* A store as the first touch of the next page. */
		uint64_t w = pat_word((pg + 1) * PAGE + WORD, MY_SEED);
		if ((pg + 1) % 4 == 1)
			memcpy(p + (pg + 1) * PAGE + WORD, &w, 8);
	}
	check_all(p, 0, "first pass");
	check_all(p, 1, "backwards pass");

	stats_get(&b);
	stats_print("after", &b);
	expect_managed(&a, &b, 1, "private mapping");
	expect_filled(&a, &b, NPAGES / 2, "private mapping");   /* the odd pages at least */
	if (T.shim)
		check(b.evicted_pages > a.evicted_pages,
		      "expected evicted_pages to grow (unwritten pages 2x the budget), got %llu -> %llu",
		      U(a.evicted_pages), U(b.evicted_pages));
	ok(munmap(p, FILE_SIZE));

	/* The file under the mapping is as it was. */
	uint8_t *buf = malloc(MiB);
	for (uint64_t off = 0; off < FILE_SIZE; off += MiB) {
		check(pread(fd, buf, MiB, (off_t)off) == (ssize_t)MiB, "pread at %llu", U(off));
		expect_pattern(buf, off, MiB, FILE_SEED, "the file after private writes");
	}
	free(buf);
	ok(close(fd));
	stats_get(&c);
	expect_released(&a, &c, "after munmap");
	note("%lu written pages kept, %lu file pages right, file unchanged", NPAGES / 2, NPAGES / 2);
	return 0;
}
