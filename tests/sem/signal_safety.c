/* signal_safety - write(2) stays async-signal-safe under the library.
 *
 * write() is on POSIX's list of async-signal-safe functions, and the library
 * wraps it. A SIGPROF handler (every 200 us of CPU time) writes to a log
 * file while the main thread loops over calls the library serves under its
 * own locks: mmap, page faults, mprotect, madvise, munmap of a managed file,
 * and pwrite/ftruncate of that file. A wrapper that takes a lock the
 * interrupted thread holds deadlocks here (the guard alarm then reports it).
 * Every handler's byte must reach the log, and every mapping be right. */
#include <sys/time.h>
#include <time.h>

#include "helpers.h"

#define NP 32
#define LEN (NP * PAGE)
#define SEED 14
#define SECONDS 1.5

static int logfd;
static volatile sig_atomic_t handled;

static void on_prof(int sig)
{
	(void)sig;
	int saved = errno;
	if (write(logfd, "x", 1) == 1)
		handled++;
	errno = saved;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	t_init(30);
	char *path = tpath("data"), *log = tpath("log");
	make_file(path, LEN, SEED);
	logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	check(logfd >= 0, "create %s: %s", log, strerror(errno));
	int rw = xopen(path, O_RDWR);
	uint8_t page[PAGE];

	struct pageshim_stats a, b;
	stats_get(&a);
	struct sigaction sa = { .sa_handler = on_prof, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	ok(sigaction(SIGPROF, &sa, NULL));
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	ok(setitimer(ITIMER_PROF, &it, NULL));

	unsigned rounds = 0;
	double end = now() + SECONDS;
	while (now() < end) {
		uint8_t *m = xmmap(LEN, PROT_READ, rounds & 1 ? MAP_PRIVATE : MAP_SHARED, rw, 0);
		unsigned pg = rounds % NP;
		expect_pattern(m + pg * PAGE, pg * PAGE, PAGE, SEED, "mapping in the loop");
		ok(mprotect(m, LEN, PROT_NONE));
		ok(mprotect(m, LEN, PROT_READ));
		ok(madvise(m, LEN, MADV_DONTNEED));
		fill_pattern(page, pg * PAGE, PAGE, SEED);      /* the bytes already there */
		check(pwrite(rw, page, PAGE, pg * PAGE) == PAGE, "pwrite: %s", strerror(errno));
		ok(ftruncate(rw, LEN));
		expect_pattern(m + pg * PAGE, pg * PAGE, PAGE, SEED, "mapping after pwrite");
		ok(munmap(m, LEN));
		rounds++;
	}
	it = (struct itimerval){ { 0, 0 }, { 0, 0 } };
	ok(setitimer(ITIMER_PROF, &it, NULL));

	stats_get(&b);
	stats_print("end", &b);
	expect_managed(&a, &b, rounds, "mappings in the loop");
	expect_released(&a, &b, "after the loop");
	check(handled >= 100, "expected >= 100 SIGPROF handlers in %.1f s, got %d", SECONDS, (int)handled);
	check(file_size(logfd) == (uint64_t)handled, "log: expected %d bytes (one per handler), got %llu",
	      (int)handled, U(file_size(logfd)));
	note("%u rounds of mmap/fault/mprotect/madvise/pwrite/ftruncate/munmap, %d write()s from "
	     "a signal handler", rounds, (int)handled);
	return 0;
}
