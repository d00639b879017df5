/* ctor_mmap.so - file mappings made from a library constructor.
 *
 * Preloaded after libpageshim.so, its constructor runs before the library's
 * own (the dynamic loader initialises preloaded objects in reverse order), so
 * the wrappers must already behave. It writes a file in PAGESHIM_TEST_DIR,
 * maps it shared read-only and private read/write, checks every byte, and
 * leaves both mappings for tests/sem/ctor_mmap.c, which finds them here by
 * dlsym and checks them again after the library is up. */
#include "../helpers.h"

#define CTOR_PAGES 64
#define CTOR_SIZE (CTOR_PAGES * PAGE + 100)
#define CTOR_SEED 77

uint8_t *ctor_mmap_shared, *ctor_mmap_private;
int ctor_mmap_done;

__attribute__((constructor)) static void ctor_mmap_early(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	T.dir = getenv("PAGESHIM_TEST_DIR");
	if (!T.dir)
		return;         /* not under the runner: do nothing */
	char *path = tpath("ctor");
	make_file(path, CTOR_SIZE, CTOR_SEED);
	int fd = xopen(path, O_RDONLY);
	ctor_mmap_shared = xmmap(CTOR_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	ctor_mmap_private = xmmap(CTOR_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	uint8_t *tmp = xmmap(CTOR_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	ok(close(fd));
	expect_pattern(ctor_mmap_shared, 0, CTOR_SIZE, CTOR_SEED, "constructor: MAP_SHARED");
	expect_pattern(ctor_mmap_private, 0, CTOR_SIZE, CTOR_SEED, "constructor: MAP_PRIVATE|PROT_WRITE");
	expect_pattern(tmp + PAGE, PAGE, PAGE, CTOR_SEED, "constructor: MAP_PRIVATE");
	ok(munmap(tmp, CTOR_SIZE));
	memset(ctor_mmap_private + PAGE, 0xc7, PAGE);
	ctor_mmap_done = 1;
}
