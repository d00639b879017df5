/* shared_write - writes through a MAP_SHARED|PROT_WRITE mapping reach the file.
 *
 * A 40 MiB file (2.5x the 16M budget), opened O_RDWR and mapped shared
 * writable. Mapping 1: every even page gets the program's bytes (seed 2,
 * 20 MiB of dirty pages, more than the budget), then every page is read back
 * forwards and backwards, so dirty pages must be evicted (written back) and
 * come back right. Before any msync, a pread on a second descriptor shows the
 * written bytes (the kernel's page cache is one; the library must have
 * written them back or serve them). msync(MS_SYNC) returns 0 and the file
 * (raw pread64, no library in the way) has every byte. Then pages 1 mod 4
 * get seed 3 and a clean resident page gets 7 bytes in its middle, and the
 * mapping is unmapped without msync: the file has those too. Mapping 2: the
 * first touch of two pages is a 5-byte write straddling them; every byte
 * reads right and, after munmap, the file holds exactly those bytes with the
 * rest of both pages intact. Mapping 3: PROT_READ then mprotect to
 * PROT_READ|PROT_WRITE (fd O_RDWR) succeeds and its writes reach the file;
 * with an O_RDONLY descriptor the mprotect fails with EACCES.
 * Under pageshim: the mappings were managed, dirty pages were written back
 * (pages_written_back), the budget held. */
// pageshim-env: PAGESHIM_CACHE_SIZE=16M
#include "helpers.h"

#define FILE_SIZE (40 * MiB)
#define NPAGES (FILE_SIZE / PAGE)
#define FILE_SEED 1

static uint8_t *model;          /* what every byte of the file should be */

/* The file (raw) equals the model, all of it. */
static void expect_file_is_model(int fd, const char *what)
{
	static uint8_t buf[MiB];
	char msg[160];
	check(file_size(fd) == FILE_SIZE, "%s: file size %llu, expected %llu", what,
	      U(file_size(fd)), U(FILE_SIZE));
	for (uint64_t off = 0; off < FILE_SIZE; off += MiB) {
		snprintf(msg, sizeof msg, "%s: the file at MiB %llu", what, U(off / MiB));
		raw_pread(fd, buf, MiB, off, msg);
		expect_bytes(buf, model + off, MiB, msg);
	}
}

/* Every page of the mapping equals the model, in either order. */
static void expect_map_is_model(const uint8_t *p, int backwards, const char *what)
{
	char msg[160];
	snprintf(msg, sizeof msg, "%s (%s)", what, backwards ? "backwards" : "forwards");
	for (uint64_t i = 0; i < NPAGES; i++) {
		uint64_t pg = backwards ? NPAGES - 1 - i : i;
		if (memcmp(p + pg * PAGE, model + pg * PAGE, PAGE))
			expect_bytes(p + pg * PAGE, model + pg * PAGE, PAGE, msg);  /* reports */
	}
}

/* Write `len` bytes of `seed` at off through the mapping, and into the model. */
static void put(uint8_t *p, uint64_t off, size_t len, uint64_t seed)
{
	fill_pattern(p + off, off, len, seed);
	fill_pattern(model + off, off, len, seed);
}

int main(void)
{
	t_init(60);
	char *path = tpath("data");
	make_file(path, FILE_SIZE, FILE_SEED);
	model = malloc(FILE_SIZE);
	check(model, "malloc");
	fill_pattern(model, 0, FILE_SIZE, FILE_SEED);

	struct pageshim_stats a, b, c, d, e;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	int other = xopen(path, O_RDONLY);     /* the second descriptor */

	/* ---- mapping 1: 20 MiB of dirty pages through a 16 MiB budget ---- */
	uint8_t *p = xmmap(FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	DOING("writing the even pages");
	for (uint64_t pg = 0; pg < NPAGES; pg += 2)
		put(p, pg * PAGE, PAGE, 2);
	expect_map_is_model(p, 0, "mapping 1 after writing the even pages");
	expect_map_is_model(p, 1, "mapping 1 after writing the even pages");
	stats_get(&b);
	stats_print("after the writes and reads", &b);
	expect_managed(&a, &b, 1, "mapping 1");
	expect_in_budget(&b, "mapping 1");
	if (T.shim)
		check(b.evicted_pages > a.evicted_pages,
		      "expected evicted_pages to grow (2.5x the budget read), got %llu -> %llu",
		      U(a.evicted_pages), U(b.evicted_pages));
	/* 5120 dirty pages, at most budget + reserve resident: the rest were
	 * evicted, and a dirty page is written back before it is evicted. */
	if (T.shim && b.budget_bytes + RESERVE < FILE_SIZE / 2)
		expect_grew(&a, &b, pages_written_back,
			    NPAGES / 2 - (b.budget_bytes + RESERVE) / PAGE, "eviction of dirty pages");

	/* pread on another descriptor, before msync. */
	{
		static uint8_t buf[MiB];
		char msg[160];
		for (uint64_t off = 0; off < FILE_SIZE; off += MiB) {
			ssize_t n = pread(other, buf, MiB, (off_t)off);
			check(n == (ssize_t)MiB, "pread(second descriptor, 1 MiB at %llu) returned %zd: %s",
			      U(off), n, n < 0 ? strerror(errno) : "short");
			snprintf(msg, sizeof msg, "pread of a second descriptor before msync, MiB %llu",
				 U(off / MiB));
			expect_bytes(buf, model + off, MiB, msg);
		}
	}

	DOING("msync(MS_SYNC) of the whole mapping");
	check(msync(p, FILE_SIZE, MS_SYNC) == 0, "msync(MS_SYNC) of 40 MiB: %s", strerror(errno));
	stats_get(&c);
	/* Every page written is in the file now: each was written back at least once. */
	expect_grew(&a, &c, pages_written_back, NPAGES / 2, "after msync(MS_SYNC)");
	expect_file_is_model(other, "after msync(MS_SYNC)");

	/* More writes, then munmap without msync. Page 3 (file bytes, read last
	 * by the backwards pass, so likely resident and clean) gets 7 bytes in
	 * its middle. */
	DOING("writing pages 1 mod 4");
	for (uint64_t pg = 1; pg < NPAGES; pg += 4)
		put(p, pg * PAGE, PAGE, 3);
	put(p, 3 * PAGE + 2001, 7, 4);
	expect_map_is_model(p, 0, "mapping 1 after the second writes");
	ok(munmap(p, FILE_SIZE));
	stats_get(&d);
	expect_grew(&c, &d, pages_written_back, NPAGES / 4 + 1, "munmap without msync");
	expect_file_is_model(other, "after munmap without msync");

	/* ---- mapping 2: partial-page writes as the first touch ---- */
	p = xmmap(FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	put(p, 4096 * PAGE - 3, 5, 5);          /* end of page 4095, start of 4096 */
	put(p, 7 * PAGE + 1234, 3, 6);          /* page 7 (pages 3 mod 4 are the file's) */
	expect_map_is_model(p, 0, "mapping 2");
	ok(munmap(p, FILE_SIZE));
	stats_get(&e);
	expect_managed(&d, &e, 1, "mapping 2");
	expect_grew(&d, &e, pages_written_back, 3, "mapping 2's partial writes, at munmap");
	{
		uint8_t pg[3 * PAGE];
		raw_pread(other, pg, 2 * PAGE, 4095 * PAGE, "pages 4095-4096 of the file");
		expect_bytes(pg, model + 4095 * PAGE, 2 * PAGE, "pages 4095-4096 after a straddling 5-byte write");
		raw_pread(other, pg, PAGE, 7 * PAGE, "page 7 of the file");
		expect_bytes(pg, model + 7 * PAGE, PAGE, "page 7 after a 3-byte write");
		raw_pread(other, pg, PAGE, 3 * PAGE, "page 3 of the file");
		expect_bytes(pg, model + 3 * PAGE, PAGE, "page 3 after a 7-byte write");
	}
	expect_file_is_model(other, "after mapping 2");

	/* ---- mapping 3: made writable by mprotect ---- */
	p = xmmap(64 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	expect_bytes(p, model, 64 * PAGE, "mapping 3, read-only");
	check(mprotect(p, 64 * PAGE, PROT_READ | PROT_WRITE) == 0,
	      "mprotect(PROT_READ|PROT_WRITE) of a MAP_SHARED mapping of an O_RDWR descriptor: %s",
	      strerror(errno));
	for (uint64_t pg = 8; pg < 12; pg++)
		put(p, pg * PAGE, PAGE, 7);
	put(p, 20 * PAGE + 100, 10, 8);         /* page 20 was read, not written */
	expect_bytes(p, model, 64 * PAGE, "mapping 3 after mprotect and writes");
	ok(munmap(p, 64 * PAGE));
	{
		uint8_t buf[64 * PAGE];
		raw_pread(other, buf, sizeof buf, 0, "the file after mapping 3's writes");
		expect_bytes(buf, model, sizeof buf, "the file after mapping 3's writes");
	}
	p = xmmap(64 * PAGE, PROT_READ, MAP_SHARED, other, 0);   /* O_RDONLY descriptor */
	(void)*(volatile uint8_t *)p;
	errno = 0;
	check(mprotect(p, 64 * PAGE, PROT_READ | PROT_WRITE) == -1 && errno == EACCES,
	      "mprotect(PROT_WRITE) of a shared mapping of an O_RDONLY descriptor: expected EACCES, got %s",
	      errno ? strerror(errno) : "success");
	ok(munmap(p, 64 * PAGE));

	ok(close(fd));
	ok(close(other));
	struct pageshim_stats f;
	stats_get(&f);
	stats_print("end", &f);
	expect_released(&a, &f, "after munmap");
	note("20 MiB written through a 16 MiB budget, every byte in the file after msync, munmap, "
	     "partial-page writes and mprotect");
	return 0;
}
