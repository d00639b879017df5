/* watch_external - another process's write reaches a mapping without any
 * lock or msync, as the kernel's shared page cache shows it at once; this
 * process's own writes are never taken for another's.
 *
 * A 4 MiB file; the test (A) maps it MAP_SHARED read-only and reads every
 * page, and maps a second file MAP_SHARED writable.
 *   1. A's own writes: 200 pwrites of one page of the first file, an
 *      ftruncate growing it, fallocate (plain and KEEP_SIZE) and
 *      posix_fallocate growing it more, a truncate shrinking it back and an
 *      fchmod (ctime alone), 256 pages of the second written through its
 *      mapping and msync()ed, then a pause of 300 ms and an fcntl lock:
 *      under pageshim, external_modifications does not grow (neither the
 *      program's calls nor pageshim's write-back are another's).
 *   2. Another process (B, forked before anything was mapped) pwrites page
 *      600 while a thread of A is stuck in a write to a full pipe; A,
 *      taking no lock and calling nothing, reads that page of the
 *      read-only mapping every millisecond: within 5 s it shows B's bytes
 *      (at once under the kernel). Under pageshim external_modifications
 *      grew, and the library says so once on stderr. (A write that is not
 *      to a managed file must not put off the watcher's look.)
 * The files then hold what was written; the mappings show it. */
// pageshim-stderr: 1
#include <time.h>

#include "helpers.h"

#define NP 1024
#define SIZE (NP * PAGE)
#define SEED 31
#define B_PAGE 600

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int stuck[2];

/* Writes more than a pipe holds to one nobody reads yet. */
static void *stuck_writer(void *u)
{
	(void)u;
	static char big[1 << 20];
	check(write(stuck[1], big, sizeof big) == (ssize_t)sizeof big, "pipe write: %s", strerror(errno));
	return NULL;
}

int main(void)
{
	t_init(60);
	struct pageshim_stats a, b;
	char *path = tpath("data");
	make_file(path, SIZE, SEED);
	static uint8_t model[SIZE];
	fill_pattern(model, 0, SIZE, SEED);
	int down[2], up[2];
	pid_t pid = fork_piped(down, up);
	if (pid == 0) {
		char c;
		check(read(down[0], &c, 1) == 1, "B: A said nothing");
		int fd = xopen(path, O_RDWR);
		uint8_t page[PAGE];
		memset(page, 0xb6, sizeof page);
		check(pwrite(fd, page, PAGE, B_PAGE * PAGE) == PAGE, "B: pwrite: %s", strerror(errno));
		_exit(0);
	}

	int fd = xopen(path, O_RDWR);
	uint8_t *ro = xmmap(SIZE, PROT_READ, MAP_SHARED, fd, 0);
	expect_bytes(ro, model, SIZE, "the read-only mapping");
	char *path2 = tpath("written");
	make_file(path2, SIZE, SEED + 1);
	static uint8_t model2[SIZE];
	fill_pattern(model2, 0, SIZE, SEED + 1);
	int fd2 = xopen(path2, O_RDWR);
	uint8_t *rw = xmmap(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	stats_get(&a);

	DOING("1. A's own writes");
	uint8_t page[PAGE];
	for (int i = 0; i < 200; i++) {
		memset(page, i, sizeof page);
		check(pwrite(fd, page, PAGE, 7 * PAGE) == PAGE, "pwrite: %s", strerror(errno));
	}
	memcpy(model + 7 * PAGE, page, PAGE);
	ok(ftruncate(fd, SIZE + PAGE));
	ok(fallocate(fd, 0, SIZE, 2 * PAGE));
	ok(fallocate(fd, FALLOC_FL_KEEP_SIZE, SIZE, 8 * PAGE));
	check(posix_fallocate(fd, 0, SIZE + 4 * PAGE) == 0, "posix_fallocate failed");
	ok(truncate(path, SIZE));
	ok(fchmod(fd, 0640));
	for (int pg = 100; pg < 356; pg++) {
		memset(rw + (size_t)pg * PAGE, pg & 0xff, PAGE);
		memset(model2 + (size_t)pg * PAGE, pg & 0xff, PAGE);
	}
	ok(msync(rw, SIZE, MS_SYNC));
	usleep(300 * 1000);
	struct flock lk = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	ok(fcntl(fd, F_SETLK, &lk));
	lk.l_type = F_UNLCK;
	ok(fcntl(fd, F_SETLK, &lk));
	stats_get(&b);
	check(b.external_modifications == a.external_modifications,
	      "1: expected external_modifications to stay %llu after this process's own writes, got %llu",
	      U(a.external_modifications), U(b.external_modifications));
	expect_bytes(ro, model, SIZE, "1: the read-only mapping after A's writes");

	DOING("2. B's write, no lock taken, a write to a pipe stuck");
	ok(pipe(stuck));
	pthread_t t;
	check(pthread_create(&t, NULL, stuck_writer, NULL) == 0, "pthread_create");
	usleep(50 * 1000);
	char go = 'w';
	check(write(down[1], &go, 1) == 1, "pipe: %s", strerror(errno));
	int status;
	check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "B failed");
	memset(model + B_PAGE * PAGE, 0xb6, PAGE);
	double t0 = now_s(), seen = -1;
	while (now_s() - t0 < 5) {
		if (!memcmp(ro + B_PAGE * PAGE, model + B_PAGE * PAGE, PAGE)) {
			seen = now_s() - t0;
			break;
		}
		usleep(1000);
	}
	check(seen >= 0, "2: B's write not seen through the mapping within 5 s, no lock taken");
	note("B's write seen after %.1f ms", seen * 1000);
	char drain[65536];
	for (size_t got = 0; got < (1 << 20);) {
		ssize_t n = read(stuck[0], drain, sizeof drain);
		check(n > 0, "pipe read: %s", strerror(errno));
		got += (size_t)n;
	}
	pthread_join(t, NULL);
	expect_bytes(ro, model, SIZE, "2: the read-only mapping");
	expect_file_is(fd, model, 0, SIZE, "2: the file");
	expect_bytes(rw, model2, SIZE, "the second file's mapping");
	expect_file_is(fd2, model2, 0, SIZE, "the second file");
	stats_get(&b);
	expect_managed(&a, &b, 0, "the mappings");
	expect_grew(&a, &b, pages_written_back, 256, "1: the second file's pages");
	expect_grew(&a, &b, external_modifications, 1, "2: B's write");
	note("watch_external: another process's write seen at once; this process's own never taken for one");
	return 0;
}
