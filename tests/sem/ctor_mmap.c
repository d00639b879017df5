/* ctor_mmap - mappings made in another library's constructor, before
 * libpageshim's constructor has run (tests/lib/ctor_mmap.so, preloaded after
 * the library in both modes). They must be right then (checked there) and
 * still right now, with the library up: every byte, the private page the
 * constructor wrote, a new private write; and under pageshim, once they are
 * unmapped, no managed region is left. */
// preload: ctor_mmap
#include "helpers.h"

#define CTOR_PAGES 64
#define CTOR_SIZE (CTOR_PAGES * PAGE + 100)
#define CTOR_SEED 77

int main(void)
{
	t_init(60);
	int *done = dlsym(RTLD_DEFAULT, "ctor_mmap_done");
	uint8_t **shared = dlsym(RTLD_DEFAULT, "ctor_mmap_shared");
	uint8_t **priv = dlsym(RTLD_DEFAULT, "ctor_mmap_private");
	check(done && shared && priv, "ctor_mmap.so is not loaded (the runner's \"// preload:\" line)");
	check(*done == 1, "the constructor did not finish its mappings");

	expect_pattern(*shared, 0, CTOR_SIZE, CTOR_SEED, "MAP_SHARED from the constructor");
	expect_zero(*shared + CTOR_SIZE, PAGE - 100, "MAP_SHARED past EOF");
	uint8_t mine[PAGE];
	memset(mine, 0xc7, PAGE);
	expect_pattern(*priv, 0, PAGE, CTOR_SEED, "MAP_PRIVATE page 0");
	expect_bytes(*priv + PAGE, mine, PAGE, "MAP_PRIVATE page 1 (written by the constructor)");
	expect_pattern(*priv + 2 * PAGE, 2 * PAGE, CTOR_SIZE - 2 * PAGE, CTOR_SEED, "MAP_PRIVATE rest");
	memset(*priv + 9 * PAGE, 0x3c, PAGE);
	memset(mine, 0x3c, PAGE);
	expect_bytes(*priv + 9 * PAGE, mine, PAGE, "MAP_PRIVATE page 9 (written now)");

	struct pageshim_stats s;
	stats_get(&s);
	stats_print("before munmap", &s);
	ok(munmap(*shared, CTOR_SIZE));
	ok(munmap(*priv, CTOR_SIZE));
	stats_get(&s);
	stats_print("end", &s);
	if (T.shim)
		check(s.mappings_live == 0 && s.resident_bytes == 0,
		      "expected no managed region left, got mappings_live %llu resident_bytes %llu",
		      U(s.mappings_live), U(s.resident_bytes));
	note("mappings made in a constructor before the library's: right before and after");
	return 0;
}
