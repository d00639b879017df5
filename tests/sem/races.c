/* races - the process's own calls racing pageshim's work, under eviction.
 *
 * Each case once made the library show stale bytes, lose a private write or
 * hang a thread (found in review; the kernel's mmap never does):
 *  1. pwrite then read back, while two threads churn a tiny cache: the
 *     read must show the write (a page being evicted is still mapped), and
 *     a page read while the pwrite lands is no checksum mismatch.
 *  2. one thread reads, another drops the pages with MADV_DONTNEED: every
 *     read right, no thread left waiting. (Under pageshim nearly every read
 *     faults, and the dropper gets the page again before the reader uses
 *     it several times over: some 500 us a read on a 2-core machine, hence
 *     20,000 reads where the kernel's mmap does 200,000 in 10 ms.)
 *  3. a read-around window running past the end of the file while another
 *     thread touches a page there: SIGBUS for it, no hang for anyone.
 *  4. a MAP_PRIVATE page written while a pwrite refreshes its range: the
 *     program's byte stays. */
// pageshim-env: PAGESHIM_CACHE_SIZE=64K
#include "helpers.h"


#define SEED 31

static volatile int stop;
static volatile uint8_t *shared_map;
static size_t shared_pages;

static void *churn(void *u)
{
	(void)u;
	volatile uint64_t s = 0;
	while (!stop)
		for (size_t p = 0; p < shared_pages; p++)
			s += shared_map[p * PAGE];
	return NULL;
}

static void write_then_read(void)
{
	enum { NP = 64, ITERS = 20000 };
	struct pageshim_stats a, b;
	stats_get(&a);
	char *path = tpath("w");
	make_file(path, NP * PAGE, SEED);
	int fd = xopen(path, O_RDWR);
	shared_map = xmmap(NP * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	shared_pages = NP;
	ok(madvise((void *)shared_map, NP * PAGE, MADV_RANDOM));
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		check(pthread_create(&t[i], NULL, churn, NULL) == 0, "pthread_create");
	for (uint64_t v = 1; v <= ITERS; v++) {
		DOING("pwrite then read back");
		check(pwrite(fd, &v, sizeof v, 0) == sizeof v, "pwrite: %s", strerror(errno));
		uint64_t got = *(volatile uint64_t *)shared_map;
		check(got == v, "write %llu of %d: the mapping shows %llu", U(v), ITERS, U(got));
	}
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	stop = 0;
	ok(munmap((void *)shared_map, NP * PAGE));
	ok(close(fd));
	stats_get(&b);
	check(b.checksum_mismatches == a.checksum_mismatches,
	      "the process's own pwrites counted as %llu checksum mismatches",
	      U(b.checksum_mismatches - a.checksum_mismatches));
}

static volatile uint8_t *drop_map;

static void *dropper(void *u)
{
	(void)u;
	while (!stop) {
		madvise((void *)drop_map, 256 * PAGE, MADV_DONTNEED);
		for (volatile int k = 0; k < 20000; k++)
			;
	}
	return NULL;
}

static void read_while_dropped(void)
{
	enum { NP = 256, ITERS = 20000 };
	char *path = tpath("d");
	make_file(path, NP * PAGE, SEED + 1);
	int fd = xopen(path, O_RDONLY);
	drop_map = xmmap(NP * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	pthread_t t;
	check(pthread_create(&t, NULL, dropper, NULL) == 0, "pthread_create");
	for (long i = 0; i < ITERS; i++) {
		DOING("reading pages another thread drops");
		uint64_t off = (uint64_t)((i * 7) % NP) * PAGE;
		uint64_t got = *(volatile uint64_t *)(drop_map + off);
		check(got == pat_word(off, SEED + 1), "read %ld at offset %llu: wrong word", i, U(off));
	}
	stop = 1;
	pthread_join(t, NULL);
	stop = 0;
	ok(munmap((void *)drop_map, NP * PAGE));
	ok(close(fd));
}

static pthread_barrier_t bar;
static volatile uint8_t *eof_map;
static volatile int eof_done;

static void *past_eof(void *u)
{
	(void)u;
	for (;;) {
		pthread_barrier_wait(&bar);
		if (eof_done)
			return NULL;
		expect_signal((const void *)(eof_map + 20 * PAGE), 0, SIGBUS, BUS_ADRERR,
			      "past EOF while read-around runs there");
		pthread_barrier_wait(&bar);
	}
}

static void readaround_past_eof(void)
{
	enum { NP = 128, ITERS = 500 };
	char *path = tpath("e");
	make_file(path, 10 * PAGE, SEED + 2);
	int fd = xopen(path, O_RDONLY);
	pthread_barrier_init(&bar, NULL, 2);
	pthread_t t;
	check(pthread_create(&t, NULL, past_eof, NULL) == 0, "pthread_create");
	for (int i = 0; i < ITERS; i++) {
		DOING("read-around past EOF beside a SIGBUS");
		eof_map = xmmap(NP * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
		ok(madvise((void *)eof_map, NP * PAGE, MADV_SEQUENTIAL));
		pthread_barrier_wait(&bar);
		expect_pattern((const void *)(eof_map + 5 * PAGE), 5 * PAGE, PAGE, SEED + 2, "page 5");
		pthread_barrier_wait(&bar);
		ok(munmap((void *)eof_map, NP * PAGE));
	}
	eof_done = 1;
	pthread_barrier_wait(&bar);
	pthread_join(t, NULL);
	ok(close(fd));
}

static int rw_fd;
static char *rw_bytes;

static void *rewriter(void *u)
{
	(void)u;
	for (;;) {
		pthread_barrier_wait(&bar);
		if (eof_done)
			return NULL;
		/* the same bytes: only the refresh of resident pages happens */
		check(pwrite(rw_fd, rw_bytes, 64 * PAGE, 32 * PAGE) == 64 * PAGE, "pwrite: %s",
		      strerror(errno));
		pthread_barrier_wait(&bar);
	}
}

static void private_write_during_refresh(void)
{
	enum { NP = 128, ITERS = 3000 };
	char *path = tpath("p");
	make_file(path, NP * PAGE, SEED + 3);
	rw_fd = xopen(path, O_RDWR);
	rw_bytes = malloc(64 * PAGE);
	check(rw_bytes && pread(rw_fd, rw_bytes, 64 * PAGE, 32 * PAGE) == 64 * PAGE, "pread");
	uint8_t *m = xmmap(NP * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, rw_fd, 0);
	eof_done = 0;
	pthread_barrier_init(&bar, NULL, 2);
	pthread_t t;
	check(pthread_create(&t, NULL, rewriter, NULL) == 0, "pthread_create");
	for (int i = 0; i < ITERS; i++) {
		DOING("a private write during a refresh");
		ok(madvise(m + 32 * PAGE, 64 * PAGE, MADV_DONTNEED));
		expect_pattern(m + 32 * PAGE, 32 * PAGE, 64 * PAGE, SEED + 3, "the range, read back");
		pthread_barrier_wait(&bar);
		for (volatile int k = 0; k < (i % 64) * 50; k++)
			;
		m[64 * PAGE + 100] = 'Z';
		pthread_barrier_wait(&bar);
		check(m[64 * PAGE + 100] == 'Z', "iteration %d: the private write was lost (got %#x)", i,
		      m[64 * PAGE + 100]);
	}
	eof_done = 1;
	pthread_barrier_wait(&bar);
	pthread_join(t, NULL);
	ok(munmap(m, NP * PAGE));
	ok(close(rw_fd));
}

int main(void)
{
	t_init(100);
	struct pageshim_stats a, b;
	stats_get(&a);
	write_then_read();
	read_while_dropped();
	readaround_past_eof();
	private_write_during_refresh();
	stats_get(&b);
	stats_print("end", &b);
	expect_released(&a, &b, "after the races");
	note("pwrite/read, DONTNEED/read, read-around/SIGBUS and private write/refresh races: all right");
	return 0;
}
