/* eio_sigbus - a page the library cannot read raises SIGBUS, like the kernel.
 *
 * tests/lib/eio_pread.so fails the library's preads of page 20 of a 64-page
 * file with EIO. Touching page 20 must raise SIGBUS, si_code BUS_ADRERR,
 * si_addr the touched byte, in the touching thread; every other page reads
 * right (page 19 first, so a read-around that covers page 20 must not poison
 * its neighbours); a write(2) from page 20 fails with EFAULT instead of a
 * signal. Once the error clears, page 20 reads right: the kernel retries a
 * failed read at the next access. Under the kernel there is no way to inject
 * EIO into the page cache, so that mode skips. */
// pageshim-env: LD_PRELOAD+=eio_pread

#include "helpers.h"

#define NPAGES 64
#define BAD 20
#define SEED 20

int main(void)
{
	t_init(60);
	if (!T.shim)
		skip("no way to inject EIO into the kernel's page cache here; runs under pageshim only");
	unsigned long (*injected)(void) = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "eio_pread_injected");
	check(injected, "eio_pread.so is not loaded (expected LD_PRELOAD=\"libpageshim.so eio_pread.so\")");

	char *path = tpath("eio"), real[PATH_MAX], off[32];
	make_file(path, NPAGES * PAGE, SEED);
	check(realpath(path, real), "realpath %s: %s", path, strerror(errno));
	snprintf(off, sizeof off, "%lu", BAD * PAGE);
	ok(setenv("PAGESHIM_TEST_EIO_PATH", real, 1));
	ok(setenv("PAGESHIM_TEST_EIO_OFFSET", off, 1));

	struct pageshim_stats a, b, c;
	stats_get(&a);
	unsigned sigbus = 0;
	int pfd[2];
	ok(pipe2(pfd, O_CLOEXEC | O_NONBLOCK));

	for (size_t k = 0; k < ARRAY_SIZE(managed_kinds); k++) {
		const char *what = managed_kinds[k].name;
		int fd = xopen(path, O_RDONLY);
		uint8_t *map = xmmap(NPAGES * PAGE, managed_kinds[k].prot, managed_kinds[k].flags, fd, 0);
		ok(close(fd));
		uint8_t *bad = map + BAD * PAGE;

		expect_pattern(map + (BAD - 1) * PAGE, (BAD - 1) * PAGE, PAGE, SEED, what);
		expect_signal(bad + 77, 0, SIGBUS, BUS_ADRERR, what);
		for (unsigned pg = 0; pg < NPAGES; pg++)
			if (pg != BAD)
				expect_pattern(map + pg * PAGE, pg * PAGE, PAGE, SEED, what);
		expect_signal(bad, 0, SIGBUS, BUS_ADRERR, what);
		sigbus += 2;
		if (managed_kinds[k].prot & PROT_WRITE) {
			expect_signal(bad + 4095, 1, SIGBUS, BUS_ADRERR, what);
			sigbus++;
		}

		expect_signal_in_thread(bad + 1000, 0, SIGBUS, BUS_ADRERR, what);
		sigbus++;

		/* The kernel reading the page for write(2) gets EFAULT, no signal. */
		errno = 0;
		ssize_t n = write(pfd[1], bad, PAGE);
		check(n == -1 && errno == EFAULT, "%s: write(pipe, page %d): expected -1 EFAULT, got %zd (%s)",
		      what, BAD, n, strerror(errno));
		uint8_t buf[2 * PAGE];
		n = write(pfd[1], bad - PAGE, 2 * PAGE);
		check((n == -1 && errno == EFAULT) || n == PAGE,
		      "%s: write(pipe, pages %d-%d): expected %lu (short) or -1 EFAULT, got %zd (%s)", what,
		      BAD - 1, BAD, PAGE, n, n < 0 ? strerror(errno) : "");
		if (n > 0) {
			check(read(pfd[0], buf, sizeof buf) == n, "read back from the pipe");
			expect_pattern(buf, (BAD - 1) * PAGE, (size_t)n, SEED, what);
		}
		ok(munmap(map, NPAGES * PAGE));
	}
	stats_get(&b);
	stats_print("after", &b);
	expect_managed(&a, &b, ARRAY_SIZE(managed_kinds), "eio mappings");
	check(injected() >= 1, "expected eio_pread.so to have failed a pread of page %d, got %lu "
	      "(does the library read through dlsym(RTLD_NEXT, \"pread64\")?)", BAD, injected());
	check(b.io_errors > a.io_errors, "expected io_errors to grow, got %llu -> %llu", U(a.io_errors),
	      U(b.io_errors));
	check(b.sigbus_raised - a.sigbus_raised >= sigbus,
	      "expected sigbus_raised to grow by >= %u, got %llu -> %llu", sigbus, U(a.sigbus_raised),
	      U(b.sigbus_raised));
	expect_released(&a, &b, "after munmap");

	/* A transient error: the next access after it clears reads the page. */
	int fd = xopen(path, O_RDONLY);
	uint8_t *map = xmmap(NPAGES * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ok(close(fd));
	expect_signal(map + BAD * PAGE, 0, SIGBUS, BUS_ADRERR, "error still there");
	ok(unsetenv("PAGESHIM_TEST_EIO_PATH"));
	expect_readable(map + BAD * PAGE, "after the error cleared (the kernel retries the read)");
	expect_pattern(map, 0, NPAGES * PAGE, SEED, "after the error cleared");
	ok(munmap(map, NPAGES * PAGE));
	stats_get(&c);
	expect_released(&a, &c, "end");
	note("page %d: SIGBUS at the right address in %zu mappings, EFAULT for write(2), other pages right",
	     BAD, ARRAY_SIZE(managed_kinds));
	return 0;
}
