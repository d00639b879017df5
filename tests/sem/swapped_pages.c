/* swapped_pages - pages of file mappings pushed out to swap stay the
 * program's, as under the kernel.
 *
 * With swap on (a swap file of this test's own, switched on for its run,
 * when the machine has none), a child maps two files and writes to them:
 *   1. shared writable: written pages pushed out with MADV_PAGEOUT are
 *      written to the file by msync(MS_SYNC), survive MADV_DONTNEED (a shared
 *      range loses nothing), and, pushed out again, are written back by
 *      munmap;
 *   2. private writable: written pages pushed out keep their bytes and never
 *      reach the file.
 * pageshim's pages are anonymous memory, so under it they go to swap; it
 * asked mincore whether a page was there, which says no for a page in swap
 * once it has left the swap cache, and could take written pages for
 * dropped ones; it now reads /proc/self/pagemap. The test checks that
 * written pages really were swapped out (bit 62 of pagemap). */
#include "helpers.h"

#include <sys/swap.h>
#include <sys/wait.h>

#define NP 32
#define P(n) ((size_t)(n) * PAGE)

/* Pages of [p, p+n pages) in swap now. */
static size_t swapped(const void *p, size_t n)
{
	int fd = xopen("/proc/self/pagemap", O_RDONLY);
	uint64_t e[NP];
	check(n <= NP && pread(fd, e, n * 8, (off_t)((uintptr_t)p / PAGE) * 8) == (ssize_t)(n * 8),
	      "pagemap: %s", strerror(errno));
	ok(close(fd));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += (e[i] >> 62) & 1;
	return k;
}

/* Push [p, p+n pages) out; returns how many pages are in swap then.
 * MADV_PAGEOUT passes over pages still in another CPU's LRU batch (those a
 * pageshim handler thread just installed), so it is tried a few times. */
static size_t page_out(void *p, size_t n, const char *what)
{
	size_t k = 0;
	for (int tries = 0; tries < 50 && !k; tries++) {
		if (tries)
			usleep(10000);
		check(madvise(p, P(n), MADV_PAGEOUT) == 0, "%s: MADV_PAGEOUT: %s", what, strerror(errno));
		k = swapped(p, n);
	}
	return k;
}

static int run_checks(void)
{
	static uint8_t shared_model[P(NP)], private_model[P(NP)];
	struct pageshim_stats a, b;
	stats_get(&a);

	DOING("1. shared writable");
	char *path = tpath("shared");
	make_file(path, P(NP), 1);
	fill_pattern(shared_model, 0, sizeof shared_model, 1);
	int fd = xopen(path, O_RDWR);
	uint8_t *m = xmmap(P(NP), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	for (int i = 0; i < NP; i += 2) {
		memset(m + P(i), 0xa0 + i, PAGE);
		memset(shared_model + P(i), 0xa0 + i, PAGE);
	}
	size_t out_shared = page_out(m, NP, "1");
	check(msync(m, P(NP), MS_SYNC) == 0, "1: msync after MADV_PAGEOUT: %s", strerror(errno));
	expect_file_is(fd, shared_model, 0, sizeof shared_model, "1: the file after msync");
	memset(m + P(3), 0xb3, PAGE);
	memset(shared_model + P(3), 0xb3, PAGE);
	page_out(m, NP, "1: again");
	ok(madvise(m, P(NP), MADV_DONTNEED));
	expect_bytes(m, shared_model, P(NP), "1: the mapping after MADV_DONTNEED");
	memset(m + P(5), 0xb5, PAGE);
	memset(shared_model + P(5), 0xb5, PAGE);
	page_out(m, NP, "1: before munmap");
	ok(munmap(m, P(NP)));
	expect_file_is(fd, shared_model, 0, sizeof shared_model, "1: the file after munmap");
	ok(close(fd));

	DOING("2. private writable");
	path = tpath("private");
	make_file(path, P(NP), 2);
	fill_pattern(private_model, 0, sizeof private_model, 2);
	fd = xopen(path, O_RDWR);
	m = xmmap(P(NP), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	for (int i = 0; i < NP; i += 3)
		memset(m + P(i), 0xc0 + i, PAGE);
	uint8_t *mine = malloc(P(NP));
	memcpy(mine, m, P(NP));
	size_t out_private = page_out(m, NP, "2");
	expect_bytes(m, mine, P(NP), "2: the mapping after MADV_PAGEOUT");
	ok(munmap(m, P(NP)));
	expect_file_is(fd, private_model, 0, sizeof private_model, "2: the file, untouched");
	ok(close(fd));

	stats_get(&b);
	expect_managed(&a, &b, 2, "both mappings");
	/* The kernel swaps private written pages (anonymous) in both modes.
	 * Under pageshim the shared ones are anonymous too, but some runs see
	 * none of them go (why is not known yet: see the notes). */
	check(out_private > 0, "2: no written private page went to swap: the test saw no swap");
	note("swapped_pages: %zu shared and %zu private written pages went to swap and came back whole",
	     out_shared, out_private);
	return 0;
}

/* A swap file of the test's own, on while the checks run. NULL when the
 * machine has swap already. */
static const char *swap_on(void)
{
	FILE *swaps = fopen("/proc/swaps", "r");
	char line[512];
	int lines = 0;
	while (swaps && fgets(line, sizeof line, swaps))
		lines++;
	if (swaps)
		fclose(swaps);
	if (lines > 1)          /* a header, then one line per swap area */
		return NULL;
	const char *path = tpath("swapfile");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(fd >= 0, "swap file %s: %s", path, strerror(errno));
	static uint8_t zeros[1 << 20];
	for (int i = 0; i < 64; i++)
		check(write(fd, zeros, sizeof zeros) == (ssize_t)sizeof zeros, "swap file: %s", strerror(errno));
	ok(fsync(fd));
	ok(close(fd));
	char cmd[512];
	snprintf(cmd, sizeof cmd, "mkswap -q %s >/dev/null 2>&1", path);
	if (system(cmd) != 0)
		skip("mkswap %s failed: no swap to test with", path);
	if (swapon(path, 0))
		skip("swapon %s: %s: no swap to test with", path, strerror(errno));
	return path;
}

int main(void)
{
	t_init(120);
	const char *swap = swap_on();
	pid_t child = fork();
	check(child >= 0, "fork: %s", strerror(errno));
	if (child == 0)
		_exit(run_checks());
	int status;
	check(waitpid(child, &status, 0) == child, "waitpid: %s", strerror(errno));
	if (swap)
		check(swapoff(swap) == 0, "swapoff %s: %s", swap, strerror(errno));
	check(WIFEXITED(status), "the checks died of signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}
