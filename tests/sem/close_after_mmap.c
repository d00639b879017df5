/* close_after_mmap - a mapping outlives its descriptor and its name.
 *
 * Map, close the fd at once, then make the old fd number and the old path
 * mean something else: open another file (it gets the same fd number),
 * unlink the mapped file and create a different one under its name. Every
 * byte of the mapping must still be the original file's, read in a scattered
 * order so that most pages are first touched after all of that. */
#include "helpers.h"

#define NPAGES 256
#define SIZE (NPAGES * PAGE)

int main(void)
{
	t_init(60);
	struct pageshim_stats a, b, c;
	stats_get(&a);
	uint8_t *maps[ARRAY_SIZE(managed_kinds)];
	char *paths[ARRAY_SIZE(managed_kinds)];

	for (size_t k = 0; k < ARRAY_SIZE(managed_kinds); k++) {
		paths[k] = tpath("file%zu", k);
		make_file(paths[k], SIZE, 100 + k);
		int fd = xopen(paths[k], O_RDONLY);
		maps[k] = xmmap(SIZE, managed_kinds[k].prot, managed_kinds[k].flags, fd, 0);
		ok(close(fd));
		/* The same fd number, now another file. */
		char *other = tpath("other%zu", k);
		make_file(other, SIZE, 200 + k);
		int fd2 = xopen(other, O_RDONLY);
		check(fd2 == fd, "expected the closed fd number %d to be reused, got %d", fd, fd2);
		(void)maps[k][0];       /* one page touched early */
	}
	for (size_t k = 0; k < ARRAY_SIZE(managed_kinds); k++) {
		/* The same name, now another file. */
		ok(unlink(paths[k]));
		make_file(paths[k], SIZE, 300 + k);
	}

	for (size_t k = 0; k < ARRAY_SIZE(managed_kinds); k++) {
		for (unsigned i = 0; i < NPAGES; i++) {
			unsigned pg = (i * 97) % NPAGES;        /* 97 is prime to 256: every page */
			expect_pattern(maps[k] + pg * PAGE, pg * PAGE, PAGE, 100 + k, managed_kinds[k].name);
		}
		if (managed_kinds[k].prot & PROT_WRITE) {
			uint8_t want = (uint8_t)~pat_byte(5 * PAGE, 100 + k);
			maps[k][5 * PAGE] = want;
			check(maps[k][5 * PAGE] == want, "%s: private write after close lost",
			      managed_kinds[k].name);
		}
	}
	stats_get(&b);
	stats_print("mapped", &b);
	expect_managed(&a, &b, ARRAY_SIZE(managed_kinds), "closed mappings");
	expect_filled(&a, &b, NPAGES * ARRAY_SIZE(managed_kinds), "closed mappings");
	for (size_t k = 0; k < ARRAY_SIZE(managed_kinds); k++)
		ok(munmap(maps[k], SIZE));
	stats_get(&c);
	expect_released(&a, &c, "after munmap");
	note("%zu mappings right after close, fd reuse, unlink and a new file under the old name",
	     ARRAY_SIZE(managed_kinds));
	return 0;
}
