/* posix_locks - mapping a file never costs the process its fcntl locks.
 *
 * Closing any descriptor of a file drops every POSIX lock the process holds
 * on it, whichever descriptor took them. SQLite's readers unmap and map the
 * database again each time another process changed it; when pageshim closed
 * its own descriptors at that munmap, the reader's SHARED lock went with
 * them, and the writer committed while the reader was reading (found by
 * tests/prog/sqlite_write.sh, one run in ten).
 *
 * The process holds fcntl locks on a 4 MiB file: F_RDLCK on byte 0, F_WRLCK
 * on SQLite's PENDING byte (1 GiB in, past the end), and a lockf lock on a
 * second file. After each step a child asks with F_GETLK whether each lock
 * still stands in its way, naming the parent:
 *   1. map the file MAP_SHARED, read every page, unmap (its last mapping);
 *   2. map it again, read, pwrite a page (the process writes the file
 *      itself), read the page through the mapping, unmap;
 *   3. map, read and unmap 40 other files, then the locked one again: more
 *      files than pageshim keeps descriptors of, so it closes some; and the
 *      process then has fewer descriptors open than one per file mapped.
 * Under pageshim, every mapping was managed. */
#include "helpers.h"

#define SIZE (4 * MiB)
#define NOTHERS 40
#define PENDING_BYTE 0x40000000

/* In a child: does a lock of the parent's cover [start, start+1) of path,
 * as seen by a would-be lock of type `type`? */
static void expect_held(const char *path, off_t start, short type, const char *what)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(path, O_RDWR);
		struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = 1 };
		if (fd < 0 || fcntl(fd, F_GETLK, &fl)) {
			printf("FAIL %s: F_GETLK on %s: %s\n", what, path, strerror(errno));
			_exit(1);
		}
		if (fl.l_type == F_UNLCK || fl.l_pid != parent) {
			printf("FAIL %s: expected the parent's (%d) lock on %s at %lld, "
			       "F_GETLK says %s by %d\n", what, parent, path, (long long)start,
			       fl.l_type == F_UNLCK ? "unlocked" : "locked", fl.l_pid);
			_exit(1);
		}
		_exit(0);
	}
	int status;
	check(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: the lock is gone", what);
}

static const char *db, *other;

static void expect_all_held(const char *what)
{
	expect_held(db, 0, F_WRLCK, what);
	expect_held(db, PENDING_BYTE, F_RDLCK, what);
	expect_held(other, 0, F_WRLCK, what);
}

/* (The test itself closes no descriptor of a locked file: that would drop
 * the locks under the kernel too.) */
static void map_read_unmap(int fd, uint64_t seed, const char *what)
{
	uint8_t *m = xmmap(SIZE, PROT_READ, MAP_SHARED, fd, 0);
	expect_pattern(m, 0, SIZE, seed, what);
	ok(munmap(m, SIZE));
}

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

int main(void)
{
	t_init(120);
	struct pageshim_stats a, b;
	db = tpath("db");
	other = tpath("other");
	make_file(db, SIZE, 11);
	make_file(other, SIZE, 12);
	int fd = xopen(db, O_RDWR);
	struct flock rd = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	struct flock wr = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = PENDING_BYTE, .l_len = 1 };
	ok(fcntl(fd, F_SETLK, &rd));
	ok(fcntl(fd, F_SETLK, &wr));
	int ofd = xopen(other, O_RDWR);
	ok(lockf(ofd, F_TLOCK, 1));
	expect_all_held("before any mapping");
	stats_get(&a);

	DOING("1. map, read, unmap");
	map_read_unmap(fd, 11, "db");
	map_read_unmap(ofd, 12, "other");
	expect_all_held("after the last mapping went");

	DOING("2. map again, pwrite, unmap");
	uint8_t *m = xmmap(SIZE, PROT_READ, MAP_SHARED, fd, 0);
	expect_pattern(m, 0, SIZE, 11, "db mapped again");
	uint8_t page[PAGE];
	memset(page, 0x5a, sizeof page);
	check(pwrite(fd, page, PAGE, 3 * PAGE) == PAGE, "pwrite: %s", strerror(errno));
	expect_bytes(m + 3 * PAGE, page, PAGE, "the page written, through the mapping");
	ok(munmap(m, SIZE));
	expect_all_held("after a write to the file and the unmap");

	DOING("3. 40 other files");
	int before = open_fds();
	for (int i = 0; i < NOTHERS; i++) {
		char *p = tpath("f%d", i);
		make_file(p, SIZE, 100 + (uint64_t)i);
		int pfd = xopen(p, O_RDONLY);
		map_read_unmap(pfd, 100 + (uint64_t)i, p);
		ok(close(pfd));
		ok(unlink(p));
		free(p);
	}
	int after = open_fds();
	note("descriptors open: %d before mapping %d files, %d after", before, NOTHERS, after);
	check(after - before < NOTHERS, "expected fewer than %d more descriptors, got %d more",
	      NOTHERS, after - before);
	expect_all_held("after 40 other files were mapped and unmapped");
	map_read_unmap(ofd, 12, "other");
	expect_all_held("after the locked files were mapped once more");
	stats_get(&b);
	expect_managed(&a, &b, 4 + NOTHERS, "every mapping");
	note("posix_locks: the process's fcntl and lockf locks outlive its mappings");
	return 0;
}
