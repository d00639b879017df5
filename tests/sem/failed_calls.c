/* failed_calls - calls the kernel refuses leave managed mappings as they were,
 * and a forked child's writes stay in the child.
 *
 *  - MAP_FIXED over a mapping with a bad descriptor: EBADF, and the old
 *    mapping still reads the file (page by page, none resident yet);
 *  - MREMAP_FIXED without MREMAP_MAYMOVE: EINVAL, the same;
 *  - a refused mremap shrink (MREMAP_DONTUNMAP without MAYMOVE): EINVAL, and
 *    the whole mapping still follows a pwrite;
 *  - fork: the parent replaces its mapping with anonymous memory, the child
 *    pwrites the file: the child's mapping shows it, the parent's memory is
 *    untouched (pageshim's /proc/self/mem belonged to the parent);
 *  - a munmap the kernel refuses (ENOMEM: splitting the mapping would pass
 *    vm.max_map_count) leaves the mapping served. */
#include "helpers.h"

#define NP 64
#define LEN (NP * PAGE)
#define SEED 41

int main(void)
{
	t_init(60);
	char *path = tpath("data");
	make_file(path, LEN, SEED);
	int fd = xopen(path, O_RDWR);
	struct pageshim_stats a, b;
	stats_get(&a);

	uint8_t *m = xmmap(LEN, PROT_READ, MAP_PRIVATE, fd, 0);
	errno = 0;
	check(mmap(m, LEN, PROT_READ, MAP_PRIVATE | MAP_FIXED, 12345, 0) == MAP_FAILED && errno == EBADF,
	      "MAP_FIXED with a bad fd: expected EBADF, got errno %d", errno);
	expect_pattern(m, 0, LEN, SEED, "after a refused MAP_FIXED");
	ok(munmap(m, LEN));

	m = xmmap(LEN, PROT_READ, MAP_SHARED, fd, 0);
	uint8_t *hole = xmmap(LEN, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok(munmap(hole, LEN));
	errno = 0;
	check(mremap(m, LEN, LEN, MREMAP_FIXED, hole) == MAP_FAILED && errno == EINVAL,
	      "MREMAP_FIXED without MAYMOVE: expected EINVAL, got errno %d", errno);
	expect_pattern(m, 0, LEN, SEED, "after a refused MREMAP_FIXED");
	errno = 0;
	check(mremap(m, LEN, LEN / 2, MREMAP_DONTUNMAP) == MAP_FAILED && errno == EINVAL,
	      "MREMAP_DONTUNMAP without MAYMOVE: expected EINVAL, got errno %d", errno);
	uint8_t page[PAGE];
	memset(page, 0x6b, sizeof page);
	check(pwrite(fd, page, PAGE, 40 * PAGE) == PAGE, "pwrite: %s", strerror(errno));
	expect_bytes(m + 40 * PAGE, page, PAGE, "after a refused mremap, a pwrite");
	fill_pattern(page, 40 * PAGE, PAGE, SEED);
	check(pwrite(fd, page, PAGE, 40 * PAGE) == PAGE, "pwrite: %s", strerror(errno));

	/* fork: the child writes the file, the parent has moved on */
	int go[2], done[2];
	ok(pipe(go));
	ok(pipe(done));
	fflush(stdout);
	pid_t pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		char c;
		check(read(go[0], &c, 1) == 1, "child: read");
		memset(page, 0x33, sizeof page);
		check(pwrite(fd, page, PAGE, 2 * PAGE) == PAGE, "child: pwrite: %s", strerror(errno));
		expect_bytes(m + 2 * PAGE, page, PAGE, "child: its mapping after its pwrite");
		check(write(done[1], "x", 1) == 1, "child: write");
		_exit(0);
	}
	ok(munmap(m, LEN));
	uint8_t *mine = mmap(m, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	check(mine == m, "anonymous memory at the old address: %s", strerror(errno));
	memset(mine, 'P', LEN);
	check(write(go[1], "x", 1) == 1, "write");
	char c;
	check(read(done[0], &c, 1) == 1, "the child did not finish");
	int status;
	check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child failed (status %#x)", status);
	for (size_t i = 0; i < LEN; i++)
		check(mine[i] == 'P', "the parent's anonymous memory changed at byte %zu: %#x", i, mine[i]);
	ok(munmap(mine, LEN));
	fill_pattern(page, 2 * PAGE, PAGE, SEED);       /* undo the child's write */
	check(pwrite(fd, page, PAGE, 2 * PAGE) == PAGE, "pwrite: %s", strerror(errno));

	/* Fill the map count, then unmap a hole in the middle of a mapping. */
	m = xmmap(LEN, PROT_READ, MAP_SHARED, fd, 0);
	size_t nfill = 70000;
	uint8_t *fill = xmmap(nfill * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	for (size_t i = 0; i < nfill; i += 2)
		if (mprotect(fill + i * PAGE, PAGE, PROT_READ | PROT_WRITE))
			break;
	errno = 0;
	int r = munmap(m + 8 * PAGE, 8 * PAGE);
	int err = errno;
	ok(munmap(fill, nfill * PAGE));
	if (r == 0) {
		note("munmap did not reach vm.max_map_count here; the refused case was not exercised");
		ok(munmap(m, 8 * PAGE));
		ok(munmap(m + 16 * PAGE, LEN - 16 * PAGE));
	} else {
		check(err == ENOMEM, "munmap at the map count: expected ENOMEM, got errno %d", err);
		expect_pattern(m, 0, LEN, SEED, "after a refused munmap");
		ok(munmap(m, LEN));
	}
	ok(close(fd));
	stats_get(&b);
	expect_managed(&a, &b, 3, "the mappings");
	expect_released(&a, &b, "at the end");
	note("refused MAP_FIXED, mremap and munmap leave the mapping served; a child's writes stay in the child");
	return 0;
}
