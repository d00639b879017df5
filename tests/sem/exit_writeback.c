/* exit_writeback - a process's writes through a shared mapping outlive it.
 *
 * For each way a process can end - return from main (a fork+exec of this
 * program), exit(), exit() from a second thread, _exit(), abort() (SIGABRT),
 * a NULL dereference (SIGSEGV), raise(SIGTERM), SIGTERM sent by the parent
 * while the child sleeps, a write past EOF of a shared mapping (SIGBUS), a
 * write to a pipe with no reader (SIGPIPE) - a child opens its own file O_RDWR,
 * maps it MAP_SHARED|PROT_WRITE (after the fork), closes the descriptor,
 * writes two pages of every three (and 10 bytes in the middle of a third) and
 * ends that way without msync or munmap. The parent checks the child's wait
 * status is the kernel's (exit code, or WTERMSIG) and that the file (raw
 * pread64) holds every written byte and the file's own bytes elsewhere.
 * Under pageshim each child checks, before it ends, that its mapping was
 * managed and its pages were tracked as dirty (pages_dirtied grew by at
 * least half the pages written).
 * SIGKILL is not tested: the library documents that it loses unwritten data.
 * No core dumps: the children set RLIMIT_CORE 0 and are not dumpable. */
// pageshim-env: PAGESHIM_CACHE_SIZE=16M
#include <sys/prctl.h>
#include <sys/resource.h>

#include "helpers.h"

#define SIZE (4 * MiB)
#define NPAGES (SIZE / PAGE)
#define FILE_SEED 1
#define PARTIAL_OFF (5 * PAGE + 777)    /* page 5: one of the pages left alone */
#define PARTIAL_LEN 10

/* ---- the ways to end ---------------------------------------------------- */

enum how { RETURN, EXIT, EXIT_THREAD, UNDERSCORE_EXIT, ABORT, SEGV, RAISE_TERM, KILL_TERM, BUS, PIPE };

static const struct way {
	enum how how;
	const char *name;
	int code;       /* exit status, or */
	int sig;        /* the terminating signal */
} ways[] = {
	{ RETURN, "return from main", 5, 0 },
	{ EXIT, "exit()", 7, 0 },
	{ EXIT_THREAD, "exit() from a second thread", 8, 0 },
	{ UNDERSCORE_EXIT, "_exit()", 9, 0 },
	{ ABORT, "abort()", 0, SIGABRT },
	{ SEGV, "NULL dereference", 0, SIGSEGV },
	{ RAISE_TERM, "raise(SIGTERM)", 0, SIGTERM },
	{ KILL_TERM, "SIGTERM from the parent", 0, SIGTERM },
	{ BUS, "write past EOF of a shared mapping", 0, SIGBUS },
	{ PIPE, "write to a pipe with no reader", 0, SIGPIPE },
};

static uint64_t seed_of(size_t i) { return 100 + i; }

/* Written: pages 0 and 1 mod 3 wholly, 10 bytes at PARTIAL_OFF. */
static int written(uint64_t pg) { return pg % 3 != 2; }

/* What the file should hold at [off, off+len) after way i's child. */
static void expected(uint8_t *buf, uint64_t off, size_t len, uint64_t seed)
{
	for (uint64_t o = off; o < off + len;) {
		uint64_t pg = o / PAGE;
		size_t n = (pg + 1) * PAGE - o < off + len - o ? (pg + 1) * PAGE - o : off + len - o;
		fill_pattern(buf + (o - off), o, n, written(pg) ? seed : FILE_SEED);
		o += n;
	}
	if (off <= PARTIAL_OFF && PARTIAL_OFF + PARTIAL_LEN <= off + len)
		fill_pattern(buf + (PARTIAL_OFF - off), PARTIAL_OFF, PARTIAL_LEN, seed);
}

static void *exit_thread(void *arg)
{
	(void)arg;
	exit(8);
}

static volatile int *volatile nullp;   /* volatile: a real load of address 0, not a trap */

/* In the child: map, write, check the library tracked it, then end. Only
 * RETURN comes back (to main, which returns the code). */
static void child(const char *path, const struct way *w, uint64_t seed, int up)
{
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core);
	prctl(PR_SET_DUMPABLE, 0);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	alarm(20);

	struct pageshim_stats a, b;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	uint8_t *p = xmmap(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	uint8_t *eof = NULL;
	if (w->how == BUS) {
		/* Two pages of a one-page file. */
		char *short_path = tpath("short.%d", (int)getpid());
		make_file(short_path, PAGE, FILE_SEED);
		int sfd = xopen(short_path, O_RDWR);
		eof = xmmap(2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
		ok(close(sfd));
	}
	ok(close(fd));
	DOING("child: writing");
	uint64_t n = write_pages(p, NPAGES, written, PARTIAL_OFF, PARTIAL_LEN, seed);
	stats_get(&b);
	expect_managed(&a, &b, 1, "child's mapping");
	if (T.shim) {
		/* Not >= n: a page written again while its write-back runs may
		 * not count as dirtied anew (seen: n - 1, no byte lost). */
		char what[160];
		snprintf(what, sizeof what, "child (%s), %llu pages written", w->name, U(n));
		expect_grew(&a, &b, pages_dirtied, n / 2, what);
		note("child (%s): %llu pages dirtied, dirty_bytes %llu", w->name,
		     U(b.pages_dirtied - a.pages_dirtied), U(b.dirty_bytes));
	}
	fflush(stdout);

	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	switch (w->how) {
	case RETURN:
		return;
	case EXIT:
		exit(w->code);
	case EXIT_THREAD: {
		pthread_t th;
		check(pthread_create(&th, NULL, exit_thread, NULL) == 0, "pthread_create");
		pthread_join(th, NULL);
		break;
	}
	case UNDERSCORE_EXIT:
		_exit(w->code);
	case ABORT:
		abort();
	case SEGV:
		*nullp = 1;
		break;
	case RAISE_TERM:
		raise(SIGTERM);
		break;
	case KILL_TERM:
		check(write(up, "r", 1) == 1, "pipe write: %s", strerror(errno));
		for (;;)
			pause();
	case BUS:
		eof[PAGE + 10] = 1;
		break;
	case PIPE: {
		int fds[2];
		ok(pipe(fds));
		ok(close(fds[0]));
		ssize_t r = write(fds[1], "x", 1);
		note("write to a pipe with no reader returned %zd (%s)", r, strerror(errno));
		break;
	}
	}
	note("child (%s): still alive", w->name);
	_exit(99);
}

static const char *status_text(int st)
{
	static char buf[64];
	if (WIFEXITED(st))
		snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof buf, "signal %d (%s)%s", WTERMSIG(st), strsignal(WTERMSIG(st)),
			 WCOREDUMP(st) ? ", core dumped" : "");
	else
		snprintf(buf, sizeof buf, "status %#x", st);
	return buf;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--child")) {         /* the RETURN way, after exec */
		t_init(20);
		size_t i = strtoul(argv[3], NULL, 10);
		child(argv[2], &ways[i], seed_of(i), -1);
		return ways[i].code;
	}
	t_init(60);
	static uint8_t got[SIZE], want[SIZE];
	for (size_t i = 0; i < ARRAY_SIZE(ways); i++) {
		const struct way *w = &ways[i];
		char *path = tpath("data.%zu", i), what[160];
		make_file(path, SIZE, FILE_SEED);
		int up[2];
		ok(pipe2(up, O_CLOEXEC));
		fflush(stdout);
		pid_t pid = fork();
		check(pid >= 0, "fork: %s", strerror(errno));
		if (pid == 0) {
			if (w->how == RETURN) {
				char idx[16];
				snprintf(idx, sizeof idx, "%zu", i);
				execl("/proc/self/exe", argv[0], "--child", path, idx, (char *)NULL);
				fail("exec /proc/self/exe: %s", strerror(errno));
			}
			child(path, w, seed_of(i), up[1]);
			_exit(98);
		}
		ok(close(up[1]));
		if (w->how == KILL_TERM) {
			char c = 0;
			check(read(up[0], &c, 1) == 1 && c == 'r', "%s: the child did not get ready (its output is above)",
			      w->name);
			ok(kill(pid, SIGTERM));
		}
		ok(close(up[0]));
		int st;
		check(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
		if (w->sig)
			check(WIFSIGNALED(st) && WTERMSIG(st) == w->sig,
			      "%s: expected the child killed by signal %d (%s), got %s", w->name, w->sig,
			      strsignal(w->sig), status_text(st));
		else
			check(WIFEXITED(st) && WEXITSTATUS(st) == w->code,
			      "%s: expected the child to exit %d, got %s (its output is above)", w->name,
			      w->code, status_text(st));

		int fd = xopen(path, O_RDONLY);
		check(file_size(fd) == SIZE, "%s: file size %llu, expected %llu", w->name,
		      U(file_size(fd)), U(SIZE));
		snprintf(what, sizeof what, "the file after the child's %s", w->name);
		raw_pread(fd, got, SIZE, 0, what);
		ok(close(fd));
		expected(want, 0, SIZE, seed_of(i));
		expect_bytes(got, want, SIZE, what);
		note("%-36s %-22s file right", w->name, status_text(st));
	}
	note("%zu ways to end, every write through the mapping in the file", ARRAY_SIZE(ways));
	return 0;
}
