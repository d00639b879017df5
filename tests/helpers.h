/* helpers.h - what every pageshim test shares.
 *
 * A test is a plain program: exit 0 pass, 1 fail, 77 skip (the reason
 * printed). Its messages go to stdout; stderr is left to the library, so the
 * runner can count pageshim's own lines there (see tests/run.sh).
 *
 *   t_init(secs)          read PAGESHIM_TEST_MODE / _DIR, find the stats
 *                         reader, install the fault probes, arm a timeout
 *   make_file(...)        a file whose every byte is known: the 8-byte word
 *                         at offset o is pat_word(o, seed)
 *   expect_pattern/zero/bytes/file   compare memory, report the first
 *                         difference (offset, expected, got)
 *   expect_file_is/path_is           the file (pread) equals the expected bytes
 *   raw_pread()           read the file by the raw syscall, no library in the way
 *   probe()/expect_signal()          touch one byte; catch SIGBUS/SIGSEGV in
 *                         the touching thread and report signo, si_code, si_addr
 *   stats_get()/expect_*()           the library's counters; no-ops under
 *                         the kernel, where the reader must be absent
 */
#ifndef PAGESHIM_TEST_HELPERS_H
#define PAGESHIM_TEST_HELPERS_H

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pageshim.h"

#define PAGE 4096UL                     /* x86_64; t_init checks it */
#define MiB (1024UL * 1024)
#define RESERVE MiB                     /* resident may exceed the budget by this much */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define U(x) ((unsigned long long)(x))
/* Not every test uses every helper. */
#define HELPER static __attribute__((unused))

#define fail(...)                                                              \
	do {                                                                   \
		printf("FAIL %s:%d: ", __FILE__, __LINE__);                    \
		printf(__VA_ARGS__);                                           \
		putchar('\n');                                                 \
		fflush(stdout);                                                \
		_exit(1);                                                      \
	} while (0)
#define check(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond))                                                   \
			fail(__VA_ARGS__);                                     \
	} while (0)
#define skip(...)                                                              \
	do {                                                                   \
		printf("SKIP: ");                                              \
		printf(__VA_ARGS__);                                           \
		putchar('\n');                                                 \
		fflush(stdout);                                                \
		_exit(77);                                                     \
	} while (0)
#define note(...)                                                              \
	do {                                                                   \
		printf(__VA_ARGS__);                                           \
		putchar('\n');                                                 \
	} while (0)
/* A libc call that must succeed. */
#define ok(call)                                                               \
	do {                                                                   \
		if ((call) == -1)                                              \
			fail("%s: %s", #call, strerror(errno));                \
	} while (0)

typedef int (*stats_read_fn)(struct pageshim_stats *, size_t);

static __attribute__((unused)) struct {
	int shim;               /* running under libpageshim */
	stats_read_fn stats_rd; /* pageshim_stats_read, or NULL */
	const char *dir;        /* scratch directory on disk */
} T;

/* What the test is checking now, for the timeout message (a copy: `what`
 * is often a stack buffer). Threads may overwrite it; it is only a hint. */
static __attribute__((unused)) char t_doing[160] = "start-up";
__attribute__((noinline, unused)) static void DOING(const char *what)
{
	size_t n = strlen(what);
	if (n > sizeof t_doing - 1)
		n = sizeof t_doing - 1;
	memcpy(t_doing, what, n);
	t_doing[n] = 0;
}

/* ---- the file pattern -------------------------------------------------- */

/* The 8-byte word at file offset `off` (a multiple of 8) of a file made with
 * `seed`: splitmix64 of both, so every word of every file differs. */
/* The kinds of file mapping pageshim manages. */
static const struct map_kind { int prot, flags; const char *name; } managed_kinds[] = {
	{ PROT_READ, MAP_SHARED, "MAP_SHARED" },
	{ PROT_READ, MAP_PRIVATE, "MAP_PRIVATE" },
	{ PROT_READ | PROT_WRITE, MAP_PRIVATE, "MAP_PRIVATE|PROT_WRITE" },
};

HELPER uint64_t pat_word(uint64_t off, uint64_t seed)
{
	uint64_t x = off ^ (seed * 0x9E3779B97F4A7C15ULL);
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

HELPER uint8_t pat_byte(uint64_t off, uint64_t seed)
{
	return (uint8_t)(pat_word(off & ~7ULL, seed) >> (8 * (off & 7)));
}

/* Fill buf with the bytes a file of `seed` has at [off, off+len). */
HELPER void fill_pattern(void *buf, uint64_t off, size_t len, uint64_t seed)
{
	uint8_t *b = buf;
	size_t i = 0;
	for (; i < len && ((off + i) & 7); i++)
		b[i] = pat_byte(off + i, seed);
	for (; i + 8 <= len; i += 8) {
		uint64_t w = pat_word(off + i, seed);
		memcpy(b + i, &w, 8);
	}
	for (; i < len; i++)
		b[i] = pat_byte(off + i, seed);
}

/* "dir/name", allocated (tests are short-lived; nothing is freed). */
HELPER char *tpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
HELPER char *tpath(const char *fmt, ...)
{
	char name[PATH_MAX], *p;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	check(asprintf(&p, "%s/%s", T.dir, name) > 0, "asprintf");
	return p;
}

/* Create (or replace) path with `size` bytes of the pattern of `seed`. */
HELPER void make_file(const char *path, uint64_t size, uint64_t seed)
{
	static uint8_t buf[1 << 20];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0, "create %s: %s", path, strerror(errno));
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < sizeof buf ? size - off : sizeof buf;
		fill_pattern(buf, off, n, seed);
		ssize_t w = write(fd, buf, n);
		check(w > 0, "write %s at %llu: %s", path, U(off), strerror(errno));
		off += (uint64_t)w;
	}
	ok(close(fd));
}

HELPER int xopen(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	check(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

HELPER void *xmmap(size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);
	check(p != MAP_FAILED, "mmap(len %zu, prot %#x, flags %#x, fd %d, off %lld): %s", len, prot,
	      flags, fd, (long long)off, strerror(errno));
	return p;
}

HELPER uint64_t file_size(int fd)
{
	struct stat st;
	ok(fstat(fd, &st));
	return (uint64_t)st.st_size;
}

/* The whole file at p as a string (malloc'd). */
HELPER char *read_text(const char *p)
{
	int fd = xopen(p, O_RDONLY);
	uint64_t n = file_size(fd);
	char *text = calloc(1, n + 1);
	check(text && read(fd, text, n) == (ssize_t)n, "reading %s", p);
	ok(close(fd));
	return text;
}

/* All of [off, off+len) of fd by raw pread64 syscalls: nothing of the
 * library's (no interposed pread) in the way. */
HELPER void raw_pread(int fd, void *buf, size_t len, uint64_t off, const char *what)
{
	for (size_t done = 0; done < len;) {
		long n = syscall(SYS_pread64, fd, (char *)buf + done, len - done, (off_t)(off + done));
		check(n > 0, "%s: raw pread64(%zu at %llu): %s", what, len - done, U(off + done),
		      n < 0 ? strerror(errno) : "end of file");
		done += (size_t)n;
	}
}

/* Read one byte of each of pages [from, to) of m (fault them in). */
HELPER void touch_pages(const uint8_t *m, int from, int to)
{
	for (int pg = from; pg < to; pg++)
		(void)*(volatile const uint8_t *)(m + pg * PAGE);
}

/* Write the pattern of `seed` over the pages of m[0, npages) that
 * `chosen` picks, and over [part_off, part_off+part_len). Returns how many
 * writes: the pages, plus one. */
HELPER uint64_t write_pages(uint8_t *m, uint64_t npages, int (*chosen)(uint64_t pg), uint64_t part_off,
			    size_t part_len, uint64_t seed)
{
	uint64_t n = 0;
	for (uint64_t pg = 0; pg < npages; pg++)
		if (chosen(pg)) {
			fill_pattern(m + pg * PAGE, pg * PAGE, PAGE, seed);
			n++;
		}
	fill_pattern(m + part_off, part_off, part_len, seed);
	return n + 1;
}

/* ---- comparing memory -------------------------------------------------- */

/* p holds what should be file offset `off` of the file of `seed`. */
HELPER void expect_pattern(const void *p, uint64_t off, size_t len, uint64_t seed, const char *what)
{
	DOING(what);
	const uint8_t *b = p;
	size_t i = 0;
	if (!(off & 7))         /* fast path: whole words */
		for (; i + 8 <= len; i += 8) {
			uint64_t w;
			memcpy(&w, b + i, 8);
			if (w != pat_word(off + i, seed))
				break;
		}
	for (; i < len; i++)
		check(b[i] == pat_byte(off + i, seed),
		      "%s: byte at file offset %llu (page %llu + %llu): expected %#04x (seed %llu), got %#04x",
		      what, U(off + i), U((off + i) / PAGE), U((off + i) % PAGE),
		      pat_byte(off + i, seed), U(seed), b[i]);
}

HELPER void expect_zero(const void *p, size_t len, const char *what)
{
	DOING(what);
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		check(b[i] == 0, "%s: byte %zu: expected 0, got %#04x", what, i, b[i]);
}

HELPER void expect_bytes(const void *got, const void *want, size_t len, const char *what)
{
	DOING(what);
	const uint8_t *g = got, *w = want;
	if (memcmp(g, w, len) == 0)
		return;
	for (size_t i = 0; i < len; i++)
		check(g[i] == w[i], "%s: byte %zu (page %zu + %zu): expected %#04x, got %#04x", what, i,
		      i / PAGE, i % PAGE, w[i], g[i]);
}

/* [off, off+len) of fd by one pread, in a buffer to free. */
HELPER uint8_t *pread_all(int fd, uint64_t off, size_t len, const char *what)
{
	DOING(what);
	uint8_t *buf = malloc(len ? len : 1);
	check(buf, "malloc %zu", len);
	ssize_t n = pread(fd, buf, len, (off_t)off);
	check(n == (ssize_t)len, "%s: pread(%zu at %llu) returned %zd: %s", what, len, U(off), n,
	      n < 0 ? strerror(errno) : "short");
	return buf;
}

/* p must equal what a direct pread of fd returns at [off, off+len). */
HELPER void expect_file(int fd, const void *p, uint64_t off, size_t len, const char *what)
{
	uint8_t *buf = pread_all(fd, off, len, what);
	expect_bytes(p, buf, len, what);
	free(buf);
}

/* The other way round: a pread of fd at [off, off+len) returns `want`
 * (expected: want, got: the file; byte numbers count from off). */
HELPER void expect_file_is(int fd, const void *want, uint64_t off, size_t len, const char *what)
{
	uint8_t *buf = pread_all(fd, off, len, what);
	expect_bytes(buf, want, len, what);
	free(buf);
}

/* The file at path, read through a descriptor of its own, is `len` bytes
 * long and holds `want`. */
HELPER void expect_path_is(const char *path, const void *want, size_t len, const char *what)
{
	int fd = xopen(path, O_RDONLY);
	check(file_size(fd) == len, "%s: file size %llu, expected %llu", what, U(file_size(fd)),
	      U(len));
	expect_file_is(fd, want, 0, len, what);
	ok(close(fd));
}

/* ---- catching faults --------------------------------------------------- */

static __thread sigjmp_buf t_jmp;
static __thread volatile sig_atomic_t t_armed;
static __thread siginfo_t t_si;

/* write(2) to stdout from a signal handler, by the raw syscall: a wrapper
 * that is not async-signal-safe must not hide the message. */
HELPER void t_raw_out(const void *buf, size_t n)
{
	if (syscall(SYS_write, 1, buf, n) < 0)
		_exit(1);
}

/* Async-signal-safe "text 0x<hex>\n" to stdout. */
HELPER void t_say_hex(const char *text, uint64_t v)
{
	char buf[128];
	size_t n = strlen(text);
	memcpy(buf, text, n);
	buf[n++] = '0';
	buf[n++] = 'x';
	for (int s = 60; s >= 0; s -= 4)
		buf[n++] = "0123456789abcdef"[(v >> s) & 15];
	buf[n++] = '\n';
	t_raw_out(buf, n);
}

HELPER void t_on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!t_armed) {
		/* Either the program touched memory it should not have, or the
		 * signal went to a thread other than the one that faulted. */
		t_say_hex(sig == SIGBUS ? "FAIL: unexpected SIGBUS, si_addr "
					: "FAIL: unexpected SIGSEGV, si_addr ",
			  (uint64_t)(uintptr_t)si->si_addr);
		t_say_hex("      si_code ", (uint64_t)si->si_code);
		t_say_hex("      in thread ", (uint64_t)syscall(SYS_gettid));
		_exit(1);
	}
	t_si = *si;
	t_armed = 0;
	siglongjmp(t_jmp, 1);
}

HELPER void t_on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "FAIL: timed out (the test's own alarm) while checking: ";
	t_raw_out(msg, sizeof msg - 1);
	t_raw_out(t_doing, strnlen(t_doing, sizeof t_doing));
	t_raw_out("\n", 1);
	_exit(1);
}

/* Touch the byte at p (read, or write *val when `wr`). Returns 0 when no
 * signal came (*val then holds the byte), else the signal number, with the
 * siginfo in *si. Must be called from the thread that should get the signal. */
HELPER int probe(volatile uint8_t *p, int wr, uint8_t *val, siginfo_t *si)
{
	if (sigsetjmp(t_jmp, 1)) {
		if (si)
			*si = t_si;
		return t_si.si_signo;
	}
	t_armed = 1;
	if (wr)
		*p = *val;
	else
		*val = *p;
	t_armed = 0;
	return 0;
}

HELPER const char *signame(int sig)
{
	return sig == 0 ? "no signal" : sig == SIGBUS ? "SIGBUS" : sig == SIGSEGV ? "SIGSEGV" : "?";
}

/* Touching p must raise sig with si_code `code` and si_addr == p. */
HELPER void expect_signal(const void *p, int wr, int sig, int code, const char *what)
{
	DOING(what);
	siginfo_t si;
	uint8_t v = 0x5a;
	int got = probe((volatile uint8_t *)p, wr, &v, &si);
	check(got == sig, "%s: %s of %p: expected %s, got %s", what, wr ? "write" : "read", p,
	      signame(sig), signame(got));
	check(si.si_addr == p, "%s: %s: expected si_addr %p, got %p", what, signame(sig), p, si.si_addr);
	check(si.si_code == code, "%s: %s at %p: expected si_code %d, got %d", what, signame(sig), p,
	      code, si.si_code);
}

struct signal_expectation {
	const void *p;
	int wr, sig, code;
	const char *what;
};

static void *expect_signal_thread(void *arg)
{
	const struct signal_expectation *e = arg;
	expect_signal(e->p, e->wr, e->sig, e->code, e->what);
	return NULL;
}

/* The same, from a new thread: the signal must reach that thread. */
HELPER void expect_signal_in_thread(const void *p, int wr, int sig, int code, const char *what)
{
	struct signal_expectation e = { p, wr, sig, code, what };
	pthread_t th;
	check(pthread_create(&th, NULL, expect_signal_thread, &e) == 0, "pthread_create");
	pthread_join(th, NULL);
}

/* Reading p must not raise a signal; returns the byte. */
HELPER uint8_t expect_readable(const void *p, const char *what)
{
	DOING(what);
	siginfo_t si;
	uint8_t v;
	int got = probe((volatile uint8_t *)p, 0, &v, &si);
	check(got == 0, "%s: read of %p: expected no signal, got %s (si_code %d, si_addr %p)", what,
	      p, signame(got), si.si_code, si.si_addr);
	return v;
}

/* Fork with two pipes for a handshake: the parent writes down[1] and reads
 * up[0], the child the other ends. The child gets 30 s before SIGALRM. */
HELPER pid_t fork_piped(int down[2], int up[2])
{
	ok(pipe2(down, O_CLOEXEC));
	ok(pipe2(up, O_CLOEXEC));
	pid_t pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		alarm(30);
	return pid;
}

/* ---- the library's counters -------------------------------------------- */

HELPER void stats_get(struct pageshim_stats *st)
{
	memset(st, 0, sizeof *st);
	if (!T.stats_rd)
		return;
	check(T.stats_rd(st, sizeof *st) == 0, "pageshim_stats_read: %s", strerror(errno));
	check(st->version == PAGESHIM_STATS_VERSION, "stats version: expected %d, got %u",
	      PAGESHIM_STATS_VERSION, st->version);
	check(st->size >= offsetof(struct pageshim_stats, fault_latency),
	      "stats size: expected >= %zu, got %u", offsetof(struct pageshim_stats, fault_latency),
	      st->size);
}

HELPER void stats_print(const char *what, const struct pageshim_stats *s)
{
	if (!T.stats_rd)
		return;
	note("stats %s: active %d budget %llu resident %llu peak %llu live %llu managed %llu "
	     "passthrough %llu faults %llu filled %llu evicted %llu sigbus %llu io_errors %llu "
	     "coherence %llu",
	     what, s->active, U(s->budget_bytes), U(s->resident_bytes), U(s->peak_resident_bytes),
	     U(s->mappings_live), U(s->mappings_managed), U(s->mappings_passthrough), U(s->faults),
	     U(s->pages_filled), U(s->evicted_pages), U(s->sigbus_raised), U(s->io_errors),
	     U(s->coherence_updates));
}

/* Under pageshim: at least n mappings were managed between a and b, none
 * passed through, and the library is serving. */
HELPER void expect_managed(const struct pageshim_stats *a, const struct pageshim_stats *b,
			   uint64_t n, const char *what)
{
	if (!T.shim)
		return;
	check(b->active == 1, "%s: expected stats active == 1, got %d", what, b->active);
	check(b->mappings_managed - a->mappings_managed >= n,
	      "%s: expected mappings_managed to grow by >= %llu, got %llu -> %llu", what, U(n),
	      U(a->mappings_managed), U(b->mappings_managed));
	check(b->mappings_passthrough == a->mappings_passthrough,
	      "%s: expected mappings_passthrough to stay %llu, got %llu", what,
	      U(a->mappings_passthrough), U(b->mappings_passthrough));
}

/* Under pageshim: counter `field` of struct pageshim_stats (pages_written_back,
 * pages_dirtied, external_modifications, ...) grew by at least n from a to b. */
#define expect_grew(a, b, field, n, what) expect_grew_((a)->field, (b)->field, #field, n, what)
HELPER void expect_grew_(uint64_t x, uint64_t y, const char *field, uint64_t n, const char *what)
{
	if (!T.shim)
		return;
	check(y >= x && y - x >= n, "%s: expected %s to grow by >= %llu, got %llu -> %llu", what,
	      field, U(n), U(x), U(y));
}

/* Under pageshim: at least `pages` pages were filled from the file. */
HELPER void expect_filled(const struct pageshim_stats *a, const struct pageshim_stats *b,
			  uint64_t pages, const char *what)
{
	if (!T.shim)
		return;
	check(b->faults - a->faults >= (pages ? 1 : 0), "%s: expected faults to grow, got %llu -> %llu",
	      what, U(a->faults), U(b->faults));
	check(b->pages_filled - a->pages_filled >= pages,
	      "%s: expected pages_filled to grow by >= %llu (pages touched), got %llu -> %llu", what,
	      U(pages), U(a->pages_filled), U(b->pages_filled));
}

HELPER void expect_in_budget(const struct pageshim_stats *s, const char *what)
{
	if (!T.shim)
		return;
	check(s->resident_bytes <= s->budget_bytes + RESERVE,
	      "%s: expected resident_bytes <= budget %llu + %llu, got %llu", what,
	      U(s->budget_bytes), U(RESERVE), U(s->resident_bytes));
	check(s->peak_resident_bytes <= s->budget_bytes + RESERVE,
	      "%s: expected peak_resident_bytes <= budget %llu + %llu, got %llu", what,
	      U(s->budget_bytes), U(RESERVE), U(s->peak_resident_bytes));
}

/* After the test's munmaps: as many live regions as at `a`, no more resident. */
HELPER void expect_released(const struct pageshim_stats *a, const struct pageshim_stats *b,
			    const char *what)
{
	if (!T.shim)
		return;
	check(b->mappings_live == a->mappings_live, "%s: expected mappings_live back to %llu, got %llu",
	      what, U(a->mappings_live), U(b->mappings_live));
	check(b->resident_bytes <= a->resident_bytes,
	      "%s: expected resident_bytes back to <= %llu, got %llu", what, U(a->resident_bytes),
	      U(b->resident_bytes));
}

/* ---- start-up ---------------------------------------------------------- */

/* Call first. Fails when the mode and the presence of the library disagree. */
HELPER void t_init(unsigned timeout_s)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	check(sysconf(_SC_PAGESIZE) == (long)PAGE, "page size %ld, tests assume %lu",
	      sysconf(_SC_PAGESIZE), PAGE);
	T.stats_rd = (stats_read_fn)dlsym(RTLD_DEFAULT, "pageshim_stats_read");
	const char *mode = getenv("PAGESHIM_TEST_MODE");
	if (!mode)
		mode = T.stats_rd ? "pageshim" : "kernel";
	T.shim = !strcmp(mode, "pageshim");
	check(T.shim || !strcmp(mode, "kernel"), "PAGESHIM_TEST_MODE=%s: expected kernel or pageshim",
	      mode);
	if (T.shim)
		check(T.stats_rd, "mode pageshim: pageshim_stats_read not found (LD_PRELOAD=%s)",
		      getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "(unset)");
	else
		check(!T.stats_rd, "mode kernel: pageshim_stats_read found; the library is loaded");

	T.dir = getenv("PAGESHIM_TEST_DIR");
	if (!T.dir)
		T.dir = ".";
	struct statfs sf;
	check(statfs(T.dir, &sf) == 0, "PAGESHIM_TEST_DIR %s: %s", T.dir, strerror(errno));
	check(!T.shim || sf.f_type != TMPFS_MAGIC,
	      "PAGESHIM_TEST_DIR %s is tmpfs; pageshim passes tmpfs files through", T.dir);

	struct sigaction sa = { .sa_sigaction = t_on_fault, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	ok(sigaction(SIGBUS, &sa, NULL));
	ok(sigaction(SIGSEGV, &sa, NULL));
	signal(SIGALRM, t_on_alarm);
	alarm(timeout_s);
}

#endif
