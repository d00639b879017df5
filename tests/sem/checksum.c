/* checksum - a page that changed behind pageshim's back since it last read it.
 *
 * The file is changed through a kernel mapping of its own, which neither the
 * library nor its inotify watch sees: it stands for a change pageshim cannot
 * be told of (the disk, another host). Under the kernel the
 * mapping shows the new bytes at once (one page cache). Under pageshim:
 *   - a page not resident reads the new bytes (nothing was cached);
 *   - a page read, dropped (MADV_DONTNEED) and read again after the change
 *     is a checksum mismatch: counted, and with PAGESHIM_ON_CORRUPT=warn
 *     (the default) the new bytes are used, as the kernel would show them;
 *   - the same while another thread keeps writing another managed file
 *     (the process's own writes excuse a change only in their own file);
 *   - with PAGESHIM_ON_CORRUPT=sigbus the page is refused with SIGBUS
 *     BUS_ADRERR at the touched address, and the other pages stay right.
 * The sigbus case re-executes this program with the variable set (the
 * library reads its options once, at load). */
#include "helpers.h"

#define NP 16
#define LEN (NP * PAGE)
#define SEED 21

/* Change one page of the file without any library seeing it: through a
 * kernel mapping (MAP_LOCKED stays with the kernel), which sends no inotify
 * event either. */
static void change_behind(const char *path, uint64_t page)
{
	int fd = xopen(path, O_RDWR);
	uint8_t *k = xmmap(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, fd, (off_t)(page * PAGE));
	memset(k, 0xc3, PAGE);
	ok(msync(k, PAGE, MS_SYNC));
	ok(munmap(k, PAGE));
	ok(close(fd));
}

static volatile int writing;

/* Keep writing 64 bytes at the start of the file open as *fd. */
static void *write_other(void *fd)
{
	char b[64];
	memset(b, 0x5a, sizeof b);
	while (writing)
		check(pwrite(*(int *)fd, b, sizeof b, 0) == sizeof b, "pwrite: %s", strerror(errno));
	return NULL;
}

static int sigbus_case(const char *path)
{
	struct pageshim_stats a, b;
	int fd = xopen(path, O_RDONLY);
	uint8_t *m = xmmap(LEN, PROT_READ, MAP_SHARED, fd, 0);
	stats_get(&a);
	expect_pattern(m, 0, LEN, SEED, "first read");
	ok(madvise(m, LEN, MADV_DONTNEED));
	change_behind(path, 5);
	expect_signal(m + 5 * PAGE + 17, 0, SIGBUS, BUS_ADRERR, "a changed page under ON_CORRUPT=sigbus");
	expect_pattern(m, 0, 5 * PAGE, SEED, "pages before the refused one");
	expect_pattern(m + 6 * PAGE, 6 * PAGE, LEN - 6 * PAGE, SEED, "pages after the refused one");
	stats_get(&b);
	check(b.checksum_mismatches - a.checksum_mismatches >= 1 && b.sigbus_raised > a.sigbus_raised,
	      "expected a mismatch and a SIGBUS counted, got mismatches %llu -> %llu, sigbus %llu -> %llu",
	      U(a.checksum_mismatches), U(b.checksum_mismatches), U(a.sigbus_raised), U(b.sigbus_raised));
	note("ON_CORRUPT=sigbus: the changed page was refused with SIGBUS at the right address");
	return 0;
}

int main(int argc, char **argv)
{
	t_init(60);
	if (argc == 3 && !strcmp(argv[1], "sigbus"))
		return sigbus_case(argv[2]);

	char *path = tpath("data");
	make_file(path, LEN, SEED);
	struct pageshim_stats a, b;
	stats_get(&a);
	int fd = xopen(path, O_RDONLY);
	uint8_t *m = xmmap(LEN, PROT_READ, MAP_SHARED, fd, 0);
	expect_pattern(m, 0, 4 * PAGE, SEED, "first read of pages 0-3");

	/* never read: no checksum, new bytes, no mismatch */
	change_behind(path, 10);
	expect_file(fd, m + 10 * PAGE, 10 * PAGE, PAGE, "a page changed before it was ever read");

	/* read, dropped, changed, read again: new bytes (warn), one mismatch */
	ok(madvise(m, 4 * PAGE, MADV_DONTNEED));
	change_behind(path, 2);
	expect_file(fd, m, 0, 4 * PAGE, "pages re-read after one changed behind our back");
	stats_get(&b);
	if (T.shim)
		check(b.checksum_mismatches - a.checksum_mismatches == 1,
		      "expected exactly one checksum mismatch, got %llu -> %llu",
		      U(a.checksum_mismatches), U(b.checksum_mismatches));

	/* the same while another thread keeps writing another managed file */
	char *other = tpath("other");
	make_file(other, LEN, SEED + 1);
	int ofd = xopen(other, O_RDWR);
	uint8_t *om = xmmap(LEN, PROT_READ, MAP_SHARED, ofd, 0);
	expect_pattern(om + PAGE, PAGE, PAGE, SEED + 1, "the other file");
	pthread_t t;
	writing = 1;
	check(pthread_create(&t, NULL, write_other, &ofd) == 0, "pthread_create");
	stats_get(&a);
	ok(madvise(m, 4 * PAGE, MADV_DONTNEED));
	change_behind(path, 3);
	expect_file(fd, m, 0, 4 * PAGE, "pages re-read while the process writes another file");
	stats_get(&b);
	writing = 0;
	pthread_join(t, NULL);
	if (T.shim)
		check(b.checksum_mismatches - a.checksum_mismatches == 1,
		      "while the process writes another file: expected one checksum mismatch, got %llu -> %llu",
		      U(a.checksum_mismatches), U(b.checksum_mismatches));
	ok(munmap(om, LEN));
	ok(close(ofd));
	ok(munmap(m, LEN));
	ok(close(fd));
	if (!T.shim) {
		note("kernel: changed pages read their new bytes");
		return 0;
	}

	/* the same under ON_CORRUPT=sigbus, in a fresh image of this program */
	make_file(path, LEN, SEED);
	fflush(stdout);
	pid_t pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		setenv("PAGESHIM_ON_CORRUPT", "sigbus", 1);
		execl("/proc/self/exe", argv[0], "sigbus", path, (char *)NULL);
		_exit(127);
	}
	int status;
	check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the ON_CORRUPT=sigbus run failed (status %#x)", status);
	note("warn: one mismatch counted, new bytes used; sigbus: refused");
	return 0;
}
