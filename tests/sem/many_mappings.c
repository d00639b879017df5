/* many_mappings - 10,000 managed mappings at once.
 *
 * 1,000 files of 11 pages; file i is mapped 10 times, mapping j covering its
 * pages j and j+1 (each fd closed once its mappings exist). One word of each
 * page of every mapping is checked, then the second page again after all the
 * others were touched (a cache of 16M cannot hold the 80M touched); then all
 * are unmapped, in an order unlike the mapping order. Under pageshim the
 * live count climbs by 10,000 and comes back, and nothing stays resident. */
#include "helpers.h"

#define FILES 1000
#define PER_FILE 10
#define FILE_PAGES (PER_FILE + 1)
#define N (FILES * PER_FILE)

static uint8_t *maps[N];

static void spot_check(int i, int j, int pg)
{
	uint64_t off = (uint64_t)(j + pg) * PAGE + (uint64_t)((i * 8 + j * 64) % PAGE);
	uint64_t got;
	memcpy(&got, maps[i * PER_FILE + j] + pg * PAGE + off % PAGE, 8);
	check(got == pat_word(off, 1000 + i),
	      "file %d mapping %d page %d: word at file offset %llu: expected %#llx, got %#llx", i, j,
	      pg, U(off), U(pat_word(off, 1000 + i)), U(got));
}

int main(void)
{
	t_init(110);
	struct pageshim_stats a, b, c;
	stats_get(&a);
	for (int i = 0; i < FILES; i++) {
		char *path = tpath("f%04d", i);
		make_file(path, FILE_PAGES * PAGE, 1000 + i);
		int fd = xopen(path, O_RDONLY);
		for (int j = 0; j < PER_FILE; j++)
			maps[i * PER_FILE + j] =
				xmmap(2 * PAGE, PROT_READ, j & 1 ? MAP_PRIVATE : MAP_SHARED, fd, j * PAGE);
		ok(close(fd));
		free(path);
	}
	stats_get(&b);
	stats_print("all mapped", &b);
	expect_managed(&a, &b, N, "10,000 mappings");
	if (T.shim)
		check(b.mappings_live >= a.mappings_live + N,
		      "expected mappings_live >= %llu with all mapped, got %llu", U(a.mappings_live + N),
		      U(b.mappings_live));

	for (int i = 0; i < FILES; i++)
		for (int j = 0; j < PER_FILE; j++)
			spot_check(i, j, 0), spot_check(i, j, 1);
	for (int i = FILES - 1; i >= 0; i--)
		for (int j = 0; j < PER_FILE; j++)
			spot_check(i, j, 1);
	stats_get(&b);
	expect_filled(&a, &b, 2 * N, "10,000 mappings");
	expect_in_budget(&b, "10,000 mappings");

	for (int k = 0; k < N; k++) {
		int idx = (int)(((uint64_t)k * 7919) % N);     /* 7919 is prime to 10,000 */
		ok(munmap(maps[idx], 2 * PAGE));
	}
	stats_get(&c);
	stats_print("all unmapped", &c);
	expect_released(&a, &c, "after 10,000 munmaps");
	if (T.shim)
		check(c.resident_bytes == 0, "expected resident_bytes 0 with nothing mapped, got %llu",
		      U(c.resident_bytes));
	note("%d mappings of %d files: every page spot-checked, all unmapped", N, FILES);
	return 0;
}
