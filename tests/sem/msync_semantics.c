/* msync_semantics - msync on shared writable mappings, as the kernel does it.
 *
 * A 32-page file opened O_RDWR, 16 pages of it mapped MAP_SHARED|PROT_WRITE.
 * Errors: EINVAL for MS_SYNC|MS_ASYNC, for unknown flag bits, for an
 * unaligned address (even with length 0); ENOMEM for a range that wraps, for
 * a range with an unmapped hole (MS_SYNC, MS_ASYNC, MS_INVALIDATE) and for a
 * range wholly unmapped; 0 for flags 0, length 0, an unaligned length, an
 * anonymous mapping. On the managed range MS_ASYNC and MS_SYNC return 0, and
 * after MS_SYNC the written pages (a write as first touch, a write to a read
 * page, 100 bytes synced with length 100, a page after the hole of an msync
 * that failed with ENOMEM) are in the file for a raw pread64 on another
 * descriptor. MS_INVALIDATE: after a raw pwrite64 on another descriptor (no
 * libc wrapper sees it) changes clean pages, msync(MS_INVALIDATE) returns 0
 * and the mapping shows the new bytes, while a dirty page in the same range
 * keeps the program's bytes (and reaches the file at the next MS_SYNC);
 * MS_SYNC|MS_INVALIDATE does both at once. */
// pageshim-env: PAGESHIM_CACHE_SIZE=16M
#include "helpers.h"

#define FP 32                   /* file pages */
#define NP 16                   /* mapped pages */
#define LEN (NP * PAGE)
#define SEED 1

/* ---- helpers ------------------------------------------------------------ */

static int other;               /* a second O_RDWR descriptor, used by raw syscalls only */
static uint8_t model[FP * PAGE];        /* what the file should hold */

/* Another writer changes the file: a raw pwrite64, invisible to any wrapper. */
static void raw_pwrite(uint64_t off, size_t len, uint64_t seed)
{
	uint8_t buf[4 * PAGE];
	check(len <= sizeof buf, "raw_pwrite: too long");
	fill_pattern(buf, off, len, seed);
	long n = syscall(SYS_pwrite64, other, buf, len, (off_t)off);
	check(n == (long)len, "raw pwrite64(%zu at %llu): %ld (%s)", len, U(off), n, strerror(errno));
	memcpy(model + off, buf, len);
}

/* The file (raw) holds the model at [off, off+len). */
static void expect_in_file(uint64_t off, size_t len, const char *what)
{
	uint8_t buf[FP * PAGE];
	raw_pread(other, buf, len, off, what);
	expect_bytes(buf, model + off, len, what);
}

/* Write through a mapping of file offset `base` at mapping offset off. */
static void put(uint8_t *m, uint64_t base, uint64_t off, size_t len, uint64_t seed)
{
	fill_pattern(m + off, base + off, len, seed);
	fill_pattern(model + base + off, base + off, len, seed);
}

static void expect_msync(void *addr, size_t len, int flags, int err, const char *what)
{
	DOING(what);
	errno = 0;
	int r = msync(addr, len, flags);
	if (!err)
		check(r == 0, "%s: msync(%p, %zu, %#x): expected 0, got %d (%s)", what, addr, len,
		      flags, r, strerror(errno));
	else
		check(r == -1 && errno == err, "%s: msync(%p, %zu, %#x): expected -1 %s, got %d (%s)",
		      what, addr, len, flags, strerrorname_np(err), r,
		      r ? strerrorname_np(errno) : "success");
}

int main(void)
{
	t_init(60);
	char *path = tpath("data");
	make_file(path, FP * PAGE, SEED);
	fill_pattern(model, 0, sizeof model, SEED);
	int fd = xopen(path, O_RDWR);
	other = xopen(path, O_RDWR);

	struct pageshim_stats a, b, c;
	stats_get(&a);
	uint8_t *p = xmmap(LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	for (int pg = 0; pg < NP; pg += 2)      /* read the even pages */
		expect_bytes(p + pg * PAGE, model + pg * PAGE, PAGE, "first read of the even pages");
	stats_get(&b);
	expect_managed(&a, &b, 1, "the shared writable mapping");

	/* ---- errors ---- */
	expect_msync(p, LEN, MS_SYNC | MS_ASYNC, EINVAL, "MS_SYNC|MS_ASYNC");
	expect_msync(p, LEN, MS_SYNC | MS_ASYNC | MS_INVALIDATE, EINVAL, "MS_SYNC|MS_ASYNC|MS_INVALIDATE");
	expect_msync(p, LEN, 8, EINVAL, "unknown flag 8");
	expect_msync(p, LEN, MS_SYNC | 0x100, EINVAL, "MS_SYNC with unknown flag 0x100");
	expect_msync(p, LEN, INT_MIN, EINVAL, "unknown flag 0x80000000");
	expect_msync(p + 1, PAGE, MS_SYNC, EINVAL, "an unaligned address");
	expect_msync(p + PAGE / 2, 0, MS_ASYNC, EINVAL, "an unaligned address, length 0");
	expect_msync(p, (size_t)0 - PAGE, MS_SYNC, ENOMEM, "a range that wraps around");
	expect_msync(p, 0, MS_SYNC, 0, "length 0");
	expect_msync(p, LEN, 0, 0, "flags 0");
	uint8_t *anon = xmmap(5 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok(munmap(anon + 4 * PAGE, PAGE));     /* an unmapped page after it */
	anon[0] = 1;
	expect_msync(anon, 4 * PAGE, MS_SYNC, 0, "an anonymous mapping");

	/* A second mapping of the file's pages 16-23 with a hole at its page 3. */
	uint8_t *h = xmmap(8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 16 * PAGE);
	(void)*(volatile uint8_t *)(h + 2 * PAGE);
	ok(munmap(h + 3 * PAGE, PAGE));
	put(h, 16 * PAGE, 5 * PAGE, PAGE, 30);          /* after the hole, first touch a write */
	expect_msync(h, 8 * PAGE, MS_ASYNC, ENOMEM, "MS_ASYNC over a hole");
	expect_msync(h, 8 * PAGE, MS_INVALIDATE, ENOMEM, "MS_INVALIDATE over a hole");
	expect_msync(h + 3 * PAGE, PAGE, MS_SYNC, ENOMEM, "MS_SYNC of the hole alone");
	expect_msync(h + 3 * PAGE, 2 * PAGE, MS_SYNC, ENOMEM, "MS_SYNC from the hole on");
	expect_msync(h, 8 * PAGE, MS_SYNC, ENOMEM, "MS_SYNC over a hole");
	/* The kernel syncs the mapped parts past the hole before it reports ENOMEM. */
	expect_in_file(21 * PAGE, PAGE, "a page written past the hole, after MS_SYNC failed with ENOMEM");
	expect_bytes(h + 5 * PAGE, model + 21 * PAGE, PAGE, "the mapping past the hole");
	ok(munmap(h, 8 * PAGE));
	/* A range unmapped just now: the library's own threads may have mapped
	 * memory where h was since. */
	uint8_t *gone = xmmap(8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok(munmap(gone, 8 * PAGE));
	expect_msync(gone, 8 * PAGE, MS_SYNC, ENOMEM, "MS_SYNC of a range wholly unmapped");
	expect_msync(anon + 4 * PAGE - PAGE, 2 * PAGE, MS_SYNC, ENOMEM,
		     "an anonymous mapping and the unmapped page after it");
	ok(munmap(anon, 4 * PAGE));

	/* ---- MS_ASYNC, MS_SYNC: 0, and the bytes reach the file ---- */
	put(p, 0, 2 * PAGE + 8, 64, 10);
	expect_msync(p, LEN, MS_ASYNC, 0, "MS_ASYNC of the managed range");
	expect_msync(p + 2 * PAGE, PAGE, MS_ASYNC, 0, "MS_ASYNC of one page");
	stats_get(&b);
	put(p, 0, 6 * PAGE, PAGE, 11);          /* page 6 was read: a write to a clean page */
	put(p, 0, 7 * PAGE, PAGE, 12);          /* page 7 was not: a write as the first touch */
	expect_msync(p + 6 * PAGE, 2 * PAGE, MS_SYNC, 0, "MS_SYNC of pages 6-7");
	expect_in_file(6 * PAGE, 2 * PAGE, "pages 6-7 after MS_SYNC (raw pread64, another descriptor)");
	stats_get(&c);
	expect_grew(&b, &c, pages_written_back, 2, "MS_SYNC of two written pages");
	put(p, 0, 9 * PAGE + 50, 100, 13);
	expect_msync(p + 9 * PAGE, 100, MS_SYNC, 0, "MS_SYNC of length 100");
	expect_in_file(9 * PAGE, PAGE, "page 9 after MS_SYNC of length 100");
	expect_msync(p, LEN, MS_SYNC, 0, "MS_SYNC of the managed range");
	expect_in_file(0, FP * PAGE, "the whole file after MS_SYNC");
	expect_bytes(p, model, LEN, "the mapping after MS_SYNC");

	/* ---- MS_INVALIDATE after another writer ---- */
	for (int pg = 0; pg < NP; pg++)         /* everything resident, clean */
		expect_bytes(p + pg * PAGE, model + pg * PAGE, PAGE, "before the other writer");
	put(p, 0, 12 * PAGE, PAGE, 14);         /* dirty, not synced */
	raw_pwrite(2 * PAGE + 500, 5000, 20);   /* pages 2-3 change behind the library's back */
	raw_pwrite(10 * PAGE, 16, 21);
	expect_msync(p, LEN, MS_INVALIDATE, 0, "MS_INVALIDATE after another writer");
	expect_bytes(p + 2 * PAGE, model + 2 * PAGE, 2 * PAGE,
		     "pages 2-3 after the other writer and MS_INVALIDATE");
	expect_bytes(p + 10 * PAGE, model + 10 * PAGE, PAGE,
		     "page 10 after the other writer and MS_INVALIDATE");
	expect_bytes(p + 12 * PAGE, model + 12 * PAGE, PAGE,
		     "a dirty page after MS_INVALIDATE: the program's bytes");
	expect_msync(p, LEN, MS_SYNC, 0, "MS_SYNC after MS_INVALIDATE");
	expect_in_file(12 * PAGE, PAGE, "the dirty page after MS_INVALIDATE then MS_SYNC");

	expect_bytes(p + 14 * PAGE, model + 14 * PAGE, PAGE, "page 14 before the other writer");
	put(p, 0, 13 * PAGE + 3000, 200, 15);   /* dirty; the other writer stays off its page */
	raw_pwrite(14 * PAGE + 1000, 100, 22);
	expect_msync(p, LEN, MS_SYNC | MS_INVALIDATE, 0, "MS_SYNC|MS_INVALIDATE");
	expect_bytes(p, model, LEN, "the mapping after MS_SYNC|MS_INVALIDATE");
	expect_in_file(0, FP * PAGE, "the file after MS_SYNC|MS_INVALIDATE");

	ok(munmap(p, LEN));
	ok(close(fd));
	ok(close(other));
	stats_get(&c);
	stats_print("end", &c);
	if (T.shim)
		note("external_modifications %llu -> %llu", U(a.external_modifications),
		     U(c.external_modifications));
	expect_released(&a, &c, "after munmap");
	note("msync errors as the kernel's; MS_SYNC writes back; MS_INVALIDATE shows another writer's bytes");
	return 0;
}
