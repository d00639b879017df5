/* populate_lock - mappings the kernel fills at once or must keep resident.
 *
 * MAP_POPULATE (the kernel reads every page before mmap returns: no page
 * may be left zero-filled), MAP_LOCKED, mlock() of part of a mapping,
 * mlockall(MCL_FUTURE) and MADV_POPULATE_READ: every byte is the file's.
 * Under pageshim, mlock or mlockall(MCL_CURRENT) of more than the budget is
 * ENOMEM, and munlockall gives every locked page back.
 * Locked pages are pinned: MADV_DONTNEED on them is EINVAL, and a budget
 * of 8M with 16M locked must not make the library drop them (they stay
 * right while other mappings churn through the cache). A mapping locked
 * from birth (MAP_LOCKED, or made under mlockall(MCL_FUTURE)) cannot live in
 * an evicting cache: the library leaves exactly those two to the kernel.
 * mlockall(MCL_CURRENT) while two threads map and unmap: the kernel fills
 * the managed pages during the call, so the library must not hold the lock
 * its fault handlers need (it did: a hang not even SIGTERM ended). */
// pageshim-env: PAGESHIM_CACHE_SIZE=8M
#include "helpers.h"

#define NP 4096                 /* 16M: twice the budget */
#define LEN (NP * PAGE)
#define SEED 16

static char *path, *other;

/* Under pageshim: the one mapping made since *before went to the kernel. */
static void expect_passed_through(const struct pageshim_stats *before, const char *what)
{
	struct pageshim_stats now;
	stats_get(&now);
	check(!T.shim || (now.mappings_passthrough == before->mappings_passthrough + 1 &&
			  now.mappings_managed == before->mappings_managed),
	      "%s: expected it to pass through to the kernel, got managed %llu -> %llu, "
	      "passthrough %llu -> %llu", what, U(before->mappings_managed), U(now.mappings_managed),
	      U(before->mappings_passthrough), U(now.mappings_passthrough));
}

static uint8_t *map(int flags, size_t len, const char *p)
{
	int fd = xopen(p, O_RDONLY);
	uint8_t *m = xmmap(len, PROT_READ, flags, fd, 0);
	ok(close(fd));
	return m;
}

/* Read 32M of another file through the cache, to push out what can go. */
static void churn(void)
{
	uint8_t *c = map(MAP_SHARED, 2 * LEN, other);
	expect_pattern(c, 0, 2 * LEN, SEED + 1, "churn");
	ok(munmap(c, 2 * LEN));
}

static volatile int stop;
static int mapper_fd;

static void *mapper(void *u)
{
	(void)u;
	while (!stop) {
		uint8_t *q = xmmap(16 * PAGE, PROT_READ, MAP_PRIVATE, mapper_fd, 0);
		ok(munmap(q, 16 * PAGE));
	}
	return NULL;
}

static void mlockall_while_mapping(void)
{
	mapper_fd = xopen(other, O_RDONLY);
	stop = 0;
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		check(pthread_create(&t[i], NULL, mapper, NULL) == 0, "pthread_create");
	for (int i = 0; i < 20; i++) {
		DOING("mlockall(MCL_CURRENT) while two threads map and unmap");
		uint8_t *m = map(MAP_PRIVATE, LEN / 4, path);
		ok(mlockall(MCL_CURRENT));
		expect_pattern(m, 0, LEN / 4, SEED, "locked while other threads map and unmap");
		ok(munlockall());
		ok(munmap(m, LEN / 4));
	}
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ok(close(mapper_fd));
}

int main(void)
{
	t_init(100);
	path = tpath("data");
	other = tpath("other");
	make_file(path, LEN, SEED);
	make_file(other, 2 * LEN, SEED + 1);
	struct pageshim_stats a, b;
	stats_get(&a);

	uint8_t *pop = map(MAP_SHARED | MAP_POPULATE, LEN, path);
	expect_pattern(pop, 0, LEN, SEED, "MAP_POPULATE|MAP_SHARED");
	ok(munmap(pop, LEN));
	pop = map(MAP_PRIVATE | MAP_POPULATE, LEN, path);
	expect_pattern(pop, 0, LEN, SEED, "MAP_POPULATE|MAP_PRIVATE");
	ok(munmap(pop, LEN));

	stats_get(&b);
	expect_managed(&a, &b, 2, "MAP_POPULATE mappings");
	uint8_t *lk = map(MAP_SHARED | MAP_LOCKED, LEN, path);
	expect_passed_through(&b, "MAP_LOCKED");
	churn();
	expect_pattern(lk, 0, LEN, SEED, "MAP_LOCKED after churn");
	errno = 0;
	check(madvise(lk, PAGE, MADV_DONTNEED) == -1 && errno == EINVAL,
	      "MADV_DONTNEED on a locked page: expected -1 EINVAL, got errno %d", errno);
	ok(munmap(lk, LEN));

	uint8_t *m = map(MAP_SHARED, LEN, path);
	ok(mlock(m + LEN / 4, LEN / 2));
	churn();
	expect_pattern(m, 0, LEN, SEED, "mlock of the middle half, after churn");
	/* Locked pages the cache could not evict still follow the file. */
	uint8_t page[PAGE];
	memset(page, 0x5e, sizeof page);
	int wfd = xopen(path, O_RDWR);
	check(pwrite(wfd, page, PAGE, LEN / 2) == (ssize_t)PAGE, "pwrite: %s", strerror(errno));
	expect_bytes(m + LEN / 2, page, PAGE, "a locked page after pwrite");
	fill_pattern(page, LEN / 2, PAGE, SEED);
	check(pwrite(wfd, page, PAGE, LEN / 2) == (ssize_t)PAGE, "pwrite: %s", strerror(errno));
	ok(close(wfd));
	ok(munlock(m + LEN / 4, LEN / 2));

	/* Eviction of pages next to a locked range: the kernel drops them and
	 * refuses the locked ones in one call; both kinds stay right. */
	ok(madvise(m, LEN, MADV_DONTNEED));
	ok(mlock(m + 8 * PAGE, 8 * PAGE));
	expect_pattern(m, 0, 8 * PAGE, SEED, "pages before a locked range");
	churn();
	expect_pattern(m, 0, 16 * PAGE, SEED, "pages before and in a locked range, after churn");
	ok(munlock(m + 8 * PAGE, 8 * PAGE));
	churn();
	expect_pattern(m, 0, LEN, SEED, "after munlock and churn");
	/* Under pageshim locked pages must fit the budget (twice it here): the
	 * kernel's own limit is RLIMIT_MEMLOCK, none for root. */
	if (T.shim) {
		errno = 0;
		check(mlock(m, LEN) == -1 && errno == ENOMEM,
		      "mlock of twice the budget: expected -1 ENOMEM, got errno %d", errno);
		ok(mlock(m, LEN / 4));
		ok(munlock(m, LEN / 4));
	}
	ok(madvise(m, LEN, MADV_DONTNEED));
	ok(madvise(m, LEN / 2, MADV_POPULATE_READ));
	expect_pattern(m, 0, LEN, SEED, "after MADV_POPULATE_READ");
	/* mlockall(MCL_CURRENT) locks every managed page: the same rule. */
	if (T.shim) {
		errno = 0;
		check(mlockall(MCL_CURRENT) == -1 && errno == ENOMEM,
		      "mlockall(MCL_CURRENT) with twice the budget mapped: expected -1 ENOMEM, got errno %d",
		      errno);
	}
	ok(munmap(m, LEN));

	/* A quarter of it mapped: locked and read in at once, and munlockall
	 * gives it all back (then half of it, the whole budget, can be locked). */
	m = map(MAP_SHARED, LEN / 4, path);
	ok(mlockall(MCL_CURRENT));
	stats_get(&b);
	check(!T.shim || b.resident_bytes >= LEN / 4,
	      "mlockall(MCL_CURRENT): expected the mapping resident (%lu bytes), got %llu", LEN / 4,
	      U(b.resident_bytes));
	expect_pattern(m, 0, LEN / 4, SEED, "mapped, then mlockall(MCL_CURRENT)");
	ok(munlockall());
	uint8_t *m2 = map(MAP_SHARED, LEN / 2, path);
	ok(mlock(m2, LEN / 2));
	expect_pattern(m2, 0, LEN / 2, SEED, "half of it locked after munlockall");
	ok(munlock(m2, LEN / 2));
	ok(munmap(m2, LEN / 2));
	ok(munmap(m, LEN / 4));

	mlockall_while_mapping();

	ok(mlockall(MCL_CURRENT | MCL_FUTURE));
	stats_get(&b);
	m = map(MAP_PRIVATE, LEN / 2, path);
	expect_passed_through(&b, "mapped under mlockall(MCL_FUTURE)");
	expect_pattern(m, 0, LEN / 2, SEED, "mapped under mlockall(MCL_FUTURE)");
	ok(munlockall());
	ok(munmap(m, LEN / 2));

	stats_get(&b);
	stats_print("end", &b);
	check(!T.shim || b.mappings_managed - a.mappings_managed >= 6,
	      "expected >= 6 managed mappings (populate, mlock, churn), got %llu",
	      U(b.mappings_managed - a.mappings_managed));
	expect_released(&a, &b, "after munmap");
	note("MAP_POPULATE, MAP_LOCKED, mlock, mlockall (also racing mmap) and MADV_POPULATE_READ: every byte right");
	return 0;
}
