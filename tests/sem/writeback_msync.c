/* writeback_msync - PAGESHIM_WRITEBACK=msync: the file gets nothing the
 * program did not ask for.
 *
 * A 40 MiB file (2.5x the 16M budget) mapped shared writable; every page is
 * written through the mapping, so written pages must leave memory before
 * msync. Under pageshim they go to the spill file (pages_spilled), and the
 * file, read with raw pread64, still holds its old bytes; reading every page
 * back through the mapping shows the program's bytes (read back from the
 * spill file). A page-sized window is then msync'd: exactly it reaches the
 * file. munmap writes the rest. Under the kernel, which writes back when it
 * likes, only the end results are checked: the mapping's bytes and the
 * file after munmap. */
// pageshim-env: PAGESHIM_CACHE_SIZE=16M PAGESHIM_WRITEBACK=msync
#include "helpers.h"

#define FILE_SIZE (40 * MiB)
#define NPAGES (FILE_SIZE / PAGE)
#define OLD_SEED 1
#define NEW_SEED 2

/* Compare the file, read without the library in the way, with the pattern
 * of `seed` over pages [first, end). */
static void file_has(int fd, size_t first, size_t end, uint64_t seed, const char *what)
{
	static char buf[MiB];
	for (size_t p = first; p < end;) {
		size_t n = end - p < MiB / PAGE ? end - p : MiB / PAGE;
		long got = syscall(SYS_pread64, fd, buf, n * PAGE, (off_t)(p * PAGE));
		check(got == (long)(n * PAGE), "raw pread64 at page %zu: %ld", p, got);
		expect_pattern(buf, p * PAGE, n * PAGE, seed, what);
		p += n;
	}
}

int main(void)
{
	t_init(60);
	char *path = tpath("data");
	make_file(path, FILE_SIZE, OLD_SEED);
	int fd = xopen(path, O_RDWR);
	int other = xopen(path, O_RDONLY);
	struct pageshim_stats s0, s1, s2;
	stats_get(&s0);
	char *m = xmmap(FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	for (size_t p = 0; p < NPAGES; p++)
		fill_pattern(m + p * PAGE, p * PAGE, PAGE, NEW_SEED);
	expect_pattern(m, 0, FILE_SIZE, NEW_SEED, "the mapping after the writes");
	stats_get(&s1);
	expect_managed(&s0, &s1, 1, "the mapping");
	if (T.shim) {
		check(s1.pages_spilled - s0.pages_spilled >= NPAGES - s1.budget_bytes / PAGE,
		      "pages_spilled: expected >= %llu, got %llu", U(NPAGES - s1.budget_bytes / PAGE),
		      U(s1.pages_spilled - s0.pages_spilled));
		check(s1.resident_bytes <= s1.budget_bytes + RESERVE, "resident %llu over the budget %llu",
		      U(s1.resident_bytes), U(s1.budget_bytes));
		check(s1.pages_written_back == s0.pages_written_back,
		      "pages written back before msync: %llu", U(s1.pages_written_back - s0.pages_written_back));
		file_has(other, 0, NPAGES, OLD_SEED, "the file before msync");
	}

	/* One window: pages [100, 164), some spilled, some resident. */
	ok(msync(m + 100 * PAGE, 64 * PAGE, MS_SYNC));
	if (T.shim) {
		file_has(other, 0, 100, OLD_SEED, "the file before the msync'd window");
		file_has(other, 164, NPAGES, OLD_SEED, "the file after the msync'd window");
	}
	file_has(other, 100, 164, NEW_SEED, "the msync'd window");

	ok(munmap(m, FILE_SIZE));
	file_has(other, 0, NPAGES, NEW_SEED, "the file after munmap");
	stats_get(&s2);
	if (T.shim)
		check(s2.pages_written_back - s0.pages_written_back >= NPAGES,
		      "pages_written_back: expected >= %llu, got %llu", U(NPAGES),
		      U(s2.pages_written_back - s0.pages_written_back));
	note("%zu pages written through a 16 MiB budget reached the file only when asked", NPAGES);
	return 0;
}
