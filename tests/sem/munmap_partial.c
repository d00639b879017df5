/* munmap_partial - parts of a mapping unmapped or replaced.
 *
 * On a 16-page mapping of file A (some pages touched first): munmap of the
 * head, the tail and a hole in the middle (the unmapped part raises SIGSEGV
 * SEGV_MAPERR, the rest stays right, touched or not); MAP_FIXED of file B and
 * of anonymous memory over part of it (B's bytes, zeros); munmap of all of it
 * and a MAP_FIXED map of file C at the same address (C's bytes); and private
 * pages written before a partial munmap keep the program's bytes. */
#include "helpers.h"

#define NP 16
#define LEN (NP * PAGE)
enum { A = 1, B = 2, C = 3 };

static char *path[4];

static uint8_t *map_a(int prot, int flags)
{
	int fd = xopen(path[A], O_RDONLY);
	uint8_t *p = xmmap(LEN, prot, flags, fd, 0);
	ok(close(fd));
	for (int pg = 0; pg < NP; pg += 3)      /* touch every third page */
		(void)*(volatile uint8_t *)(p + pg * PAGE + 1);
	return p;
}

/* Pages [from, to) of p show file `seed` at page offset `fpg` onwards. */
static void expect_pages(const uint8_t *p, int from, int to, int seed, int fpg, const char *what)
{
	for (int pg = from; pg < to; pg++)
		expect_pattern(p + pg * PAGE, (uint64_t)(fpg + pg - from) * PAGE, PAGE, seed, what);
}

static void expect_gone(const uint8_t *p, int from, int to, const char *what)
{
	for (int pg = from; pg < to; pg++) {
		expect_signal(p + pg * PAGE, 0, SIGSEGV, SEGV_MAPERR, what);
		expect_signal(p + pg * PAGE + PAGE - 1, 0, SIGSEGV, SEGV_MAPERR, what);
	}
}

int main(void)
{
	t_init(60);
	for (int f = A; f <= C; f++) {
		path[f] = tpath("file%d", f);
		make_file(path[f], LEN, f);
	}
	struct pageshim_stats a, b;
	stats_get(&a);
	uint64_t managed = 0;

	/* Head, tail, middle hole. */
	static const struct { int from, to; const char *name; } holes[] = {
		{ 0, 2, "head" }, { 14, 16, "tail" }, { 6, 8, "middle" }, { 5, 11, "wide middle" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(holes); i++) {
		uint8_t *p = map_a(PROT_READ, MAP_SHARED);
		managed++;
		ok(munmap(p + holes[i].from * PAGE, (size_t)(holes[i].to - holes[i].from) * PAGE));
		expect_gone(p, holes[i].from, holes[i].to, holes[i].name);
		expect_pages(p, 0, holes[i].from, A, 0, holes[i].name);
		expect_pages(p + holes[i].to * PAGE, 0, NP - holes[i].to, A, holes[i].to, holes[i].name);
		ok(munmap(p, LEN));     /* the rest, across the hole */
		expect_gone(p, 0, NP, "all");
	}

	/* MAP_FIXED of B (from its page 8) and of anonymous memory over parts. */
	uint8_t *p = map_a(PROT_READ, MAP_PRIVATE);
	managed++;
	int fd = xopen(path[B], O_RDONLY);
	check(mmap(p + 4 * PAGE, 4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 8 * PAGE) == p + 4 * PAGE,
	      "MAP_FIXED of B over pages 4-7: %s", strerror(errno));
	managed++;
	ok(close(fd));
	check(mmap(p + 10 * PAGE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) ==
	      p + 10 * PAGE, "MAP_FIXED anonymous over pages 10-11: %s", strerror(errno));
	expect_pages(p, 0, 4, A, 0, "A before B");
	expect_pages(p + 4 * PAGE, 0, 4, B, 8, "B over A");
	expect_pages(p + 8 * PAGE, 0, 2, A, 8, "A between");
	expect_zero(p + 10 * PAGE, 2 * PAGE, "anonymous over A");
	expect_pages(p + 12 * PAGE, 0, 4, A, 12, "A after");

	/* All gone, then C at the same address. */
	ok(munmap(p, LEN));
	fd = xopen(path[C], O_RDONLY);
	check(mmap(p, LEN, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == p, "MAP_FIXED of C at %p: %s",
	      (void *)p, strerror(errno));
	managed++;
	ok(close(fd));
	expect_pages(p, 0, NP, C, 0, "C where A was");
	ok(munmap(p, LEN));

	/* Private writes survive a partial munmap next to them. */
	p = map_a(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	managed++;
	uint8_t mine[PAGE];
	memset(mine, 0xa5, PAGE);
	memcpy(p + 3 * PAGE, mine, PAGE);
	memcpy(p + 9 * PAGE, mine, PAGE);
	ok(munmap(p + 4 * PAGE, 4 * PAGE));
	expect_gone(p, 4, 8, "private hole");
	expect_bytes(p + 3 * PAGE, mine, PAGE, "written page 3 after munmap of 4-7");
	expect_bytes(p + 9 * PAGE, mine, PAGE, "written page 9 after munmap of 4-7");
	expect_pages(p, 0, 3, A, 0, "private 0-2");
	expect_pages(p + 8 * PAGE, 0, 1, A, 8, "private 8");
	expect_pages(p + 10 * PAGE, 0, 6, A, 10, "private 10-15");
	ok(munmap(p, LEN));

	stats_get(&b);
	stats_print("end", &b);
	expect_managed(&a, &b, managed, "partial munmaps");
	expect_filled(&a, &b, NP, "partial munmaps");
	expect_released(&a, &b, "after munmap");
	note("%llu mappings: holes SIGSEGV, MAP_FIXED replacements and the rest right", U(managed));
	return 0;
}
