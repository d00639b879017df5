/* inject - faults injected with PAGESHIM_INJECT reach the program as the
 * kernel would deliver real ones, and exercise pageshim's error paths.
 *
 * A 1 MiB file. Each case re-executes this program with its own
 * PAGESHIM_INJECT (the library reads its options once, at load; rules name
 * the data file, or they would hit this program's own mapped segments) and
 * one fault handler (so that every=N counts reads in order), maps the file,
 * and checks:
 *   eio     "eio,file=*data,offset=64K-68K": page 16 raises SIGBUS
 *           BUS_ADRERR at the touched byte, after pageshim's retries, and its
 *           one-line report on stderr names the file, offset 65536, EIO, the
 *           mapping, and the stack of the touching thread down to this
 *           program's run_case; every other page,
 *           page 0 first (whose read-around covers page 16), is right: a bad
 *           page does not fail its neighbours;
 *   retry   "eio,every=2": every other read fails; the retries read every
 *           page right, with no SIGBUS;
 *   short   "short": every read of more than a page returns half of it;
 *           every page right, and more reads than fills;
 *   delay   "delay:40,offset=128K-132K": the fault on page 32 takes 40 ms
 *           or more, and the fault latency's maximum says so;
 *   corrupt "corrupt,every=2,offset=0-4K" with MADV_RANDOM: page 0 read,
 *           dropped, read again corrupted: a
 *           checksum mismatch is counted (PAGESHIM_ON_CORRUPT=warn), and
 *           with PAGESHIM_ON_CORRUPT=sigbus the page is refused with SIGBUS.
 * The reports go to stderr and, the same, to PAGESHIM_LOG_FILE.
 * Under the kernel nothing is injected: every page reads right. */
#include <time.h>

#include "helpers.h"

#define NP 256
#define LEN (NP * PAGE)
#define SEED 41

static const char *path;

static uint8_t *map_file(void)
{
	int fd = xopen(path, O_RDONLY);
	uint8_t *m = xmmap(LEN, PROT_READ, MAP_SHARED, fd, 0);
	ok(close(fd));
	return m;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int run_case(const char *name)
{
	struct pageshim_stats a, b;
	uint8_t *m = map_file();
	stats_get(&a);
	if (!strcmp(name, "eio")) {
		expect_pattern(m, 0, PAGE, SEED, "eio: page 0, read around page 16");
		expect_signal(m + 16 * PAGE + 100, 0, SIGBUS, BUS_ADRERR, "eio: page 16");
		expect_pattern(m, 0, 16 * PAGE, SEED, "eio: pages before 16");
		expect_pattern(m + 17 * PAGE, 17 * PAGE, LEN - 17 * PAGE, SEED, "eio: pages after 16");
		stats_get(&b);
		expect_grew(&a, &b, io_errors, 1, "eio");
		expect_grew(&a, &b, sigbus_raised, 1, "eio");
	} else if (!strcmp(name, "retry") || !strcmp(name, "short")) {
		expect_pattern(m, 0, LEN, SEED, name);
		stats_get(&b);
		check(b.sigbus_raised == a.sigbus_raised && b.io_errors == a.io_errors,
		      "%s: expected no SIGBUS and no I/O error counted, got %llu and %llu", name,
		      U(b.sigbus_raised - a.sigbus_raised), U(b.io_errors - a.io_errors));
		if (!strcmp(name, "short"))
			check(b.read_calls - a.read_calls > b.faults - a.faults,
			      "short: expected more reads than faults, got %llu reads for %llu faults",
			      U(b.read_calls - a.read_calls), U(b.faults - a.faults));
	} else if (!strcmp(name, "delay")) {
		expect_pattern(m, 0, PAGE, SEED, "delay: page 0");
		ok(madvise(m, LEN, MADV_RANDOM));
		double t0 = now_ms();
		expect_pattern(m + 32 * PAGE, 32 * PAGE, PAGE, SEED, "delay: page 32");
		double took = now_ms() - t0;
		note("delay: the fault on page 32 took %.1f ms", took);
		check(took >= 40, "delay: expected the fault to take >= 40 ms, took %.1f ms", took);
		stats_get(&b);
		check(b.fault_latency.max_us >= 40000, "delay: expected a fault latency max >= 40 ms, got %llu us",
		      U(b.fault_latency.max_us));
	} else if (!strcmp(name, "corrupt") || !strcmp(name, "corrupt-sigbus")) {
		ok(madvise(m, LEN, MADV_RANDOM));
		expect_pattern(m, 0, PAGE, SEED, "corrupt: page 0, first read");
		ok(madvise(m, PAGE, MADV_DONTNEED));
		if (!strcmp(name, "corrupt")) {
			(void)*(volatile uint8_t *)m;
			stats_get(&b);
			expect_grew(&a, &b, checksum_mismatches, 1, "corrupt: page 0 read again");
		} else {
			expect_signal(m + 5, 0, SIGBUS, BUS_ADRERR, "corrupt: page 0 read again, ON_CORRUPT=sigbus");
		}
	} else {
		fail("unknown case %s", name);
	}
	note("%s: right", name);
	return 0;
}

static const struct { const char *name, *inject, *extra, *report; } cases[] = {
	{ "eio", "eio,file=*data,offset=64K-68K", NULL, "at file offset 65536: EIO (Input/output error)" },
	{ "retry", "eio,file=*data,every=2", NULL, NULL },
	{ "short", "short,file=*data", NULL, NULL },
	{ "delay", "delay:40,file=*data,offset=128K-132K", NULL, NULL },
	{ "corrupt", "corrupt,file=*data,every=2,offset=0-4K", NULL, "checksum mismatch" },
	{ "corrupt-sigbus", "corrupt,file=*data,every=2,offset=0-4K", "PAGESHIM_ON_CORRUPT=sigbus",
	  "checksum mismatch" },
};

int main(int argc, char **argv)
{
	t_init(60);
	if (argc == 3)
		return path = argv[2], run_case(argv[1]);
	path = tpath("data");
	make_file(path, LEN, SEED);
	if (!T.shim) {
		uint8_t *m = map_file();
		expect_pattern(m, 0, LEN, SEED, "kernel: every page");
		note("kernel: nothing injected, every page right");
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *err = tpath("%s.err", cases[i].name), *log = tpath("%s.log.%%p", cases[i].name);
		fflush(stdout);
		pid_t pid = fork();
		check(pid >= 0, "fork: %s", strerror(errno));
		if (pid == 0) {
			setenv("PAGESHIM_INJECT", cases[i].inject, 1);
			setenv("PAGESHIM_HANDLERS", "1", 1);    /* the read order, so every=N, repeats */
			setenv("PAGESHIM_LOG_FILE", log, 1);
			if (cases[i].extra)
				putenv((char *)cases[i].extra);
			int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			check(fd >= 0 && dup2(fd, 2) == 2, "stderr to %s: %s", err, strerror(errno));
			execl("/proc/self/exe", argv[0], cases[i].name, path, (char *)NULL);
			_exit(127);
		}
		int status;
		check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "case %s (PAGESHIM_INJECT=%s) failed (status %#x)", cases[i].name, cases[i].inject, status);
		if (cases[i].report) {
			char *text = read_text(err), *logged = read_text(tpath("%s.log.%d", cases[i].name, pid));
			check(!strcmp(text, logged), "case %s: PAGESHIM_LOG_FILE has \"%s\", stderr \"%s\"",
			      cases[i].name, logged, text);
			free(logged);
			check(strstr(text, cases[i].report) && strstr(text, path),
			      "case %s: expected a report naming %s and \"%s\" on stderr, got: %s", cases[i].name,
			      path, cases[i].report, text);
			/* The SIGBUS report: the mapping, and the stack of the
			 * thread that touched the page, down to this program. */
			if (!strcmp(cases[i].name, "eio"))
				check(strstr(text, "MAP_SHARED at file offset 0") &&
				      strstr(text, "stack: ") && strstr(text, "run_case+"),
				      "eio: expected the mapping and a stack through run_case in the report: %s", text);
			free(text);
		}
	}
	note("inject: EIO, retries, short reads, delays and corruption behave as the kernel would show them");
	return 0;
}
