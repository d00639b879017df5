/* data_eviction - 8 threads read a file 4x the cache budget; every word right.
 *
 * Phase 1: each thread scans its eighth of the file, so every page is read
 * once and the cache must evict. Phase 2: random pages, and every 50th step
 * all threads read the same page at once (a barrier lines them up), so one
 * page is faulted by several threads together. Each page read is checked
 * word by word. Done on a MAP_SHARED and a MAP_PRIVATE read-only mapping.
 * Under pageshim: pages were evicted and resident stayed within the budget. */
// pageshim-env: PAGESHIM_CACHE_SIZE=16M
#include <pthread.h>

#include "helpers.h"

#define FILE_SIZE (64 * MiB)
#define NPAGES (FILE_SIZE / PAGE)
#define THREADS 8
#define STEPS 1500      /* random page reads per thread in phase 2 */
#define SAME_EVERY 50   /* every 50th step is a page all threads read at once */
#define SEED 11

struct worker {
	int id;
	const uint8_t *map;
	pthread_barrier_t *bar;
};

static uint64_t mix(uint64_t x)
{
	return pat_word(x * 8, 99);
}

static void *reader(void *arg)
{
	struct worker *w = arg;
	char what[64];
	snprintf(what, sizeof what, "thread %d", w->id);

	for (uint64_t pg = w->id * (NPAGES / THREADS); pg < (w->id + 1) * (NPAGES / THREADS); pg++)
		expect_pattern(w->map + pg * PAGE, pg * PAGE, PAGE, SEED, what);

	pthread_barrier_wait(w->bar);
	uint64_t rng = mix(w->id + 1);
	for (int step = 0; step < STEPS; step++) {
		uint64_t pg;
		if (step % SAME_EVERY == 0) {
			pthread_barrier_wait(w->bar);
			pg = mix(1000 + step) % NPAGES;
		} else {
			rng = mix(rng);
			pg = rng % NPAGES;
		}
		expect_pattern(w->map + pg * PAGE, pg * PAGE, PAGE, SEED, what);
	}
	return NULL;
}

int main(void)
{
	t_init(100);
	char *path = tpath("data");
	make_file(path, FILE_SIZE, SEED);
	static const struct { int flags; const char *name; } kinds[] = {
		{ MAP_SHARED, "MAP_SHARED" },
		{ MAP_PRIVATE, "MAP_PRIVATE" },
	};

	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		struct pageshim_stats a, b, c;
		stats_get(&a);
		if (T.shim)
			check(a.budget_bytes * 4 <= FILE_SIZE,
			      "expected a budget <= %lu (PAGESHIM_CACHE_SIZE=16M), got %llu",
			      FILE_SIZE / 4, U(a.budget_bytes));
		int fd = xopen(path, O_RDONLY);
		const uint8_t *map = xmmap(FILE_SIZE, PROT_READ, kinds[k].flags, fd, 0);
		ok(close(fd));

		pthread_barrier_t bar;
		pthread_barrier_init(&bar, NULL, THREADS);
		pthread_t th[THREADS];
		struct worker w[THREADS];
		for (int i = 0; i < THREADS; i++) {
			w[i] = (struct worker){ i, map, &bar };
			check(pthread_create(&th[i], NULL, reader, &w[i]) == 0, "pthread_create");
		}
		for (int i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&bar);

		stats_get(&b);
		stats_print(kinds[k].name, &b);
		expect_managed(&a, &b, 1, kinds[k].name);
		expect_filled(&a, &b, NPAGES, kinds[k].name);
		expect_in_budget(&b, kinds[k].name);
		if (T.shim)
			check(b.evicted_pages > a.evicted_pages,
			      "%s: expected evicted_pages to grow (file 4x the budget), got %llu -> %llu",
			      kinds[k].name, U(a.evicted_pages), U(b.evicted_pages));

		ok(munmap((void *)map, FILE_SIZE));
		stats_get(&c);
		expect_released(&a, &c, kinds[k].name);
		note("%s: %d threads read %lu pages each, all words right", kinds[k].name, THREADS,
		     NPAGES / THREADS + STEPS);
	}
	return 0;
}
