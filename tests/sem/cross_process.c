/* cross_process - two processes share a file through locks, as SQLite does.
 *
 * A 2 MiB file (smaller than any budget). The test forks first; then each
 * process opens the file O_RDWR itself and maps it: A MAP_SHARED|PROT_WRITE
 * (WA), B MAP_SHARED PROT_READ (RB, SQLite's read-only map of a read-write
 * descriptor); each reads every page of its mapping, so stale pages would
 * show. Then, phase after phase, 50 rounds each, the two take turns (pipes
 * order them): the writer takes its lock, changes one whole page (a
 * different one each round) and a 24-byte record on page 0, unlocks and
 * says so; the reader takes its lock, compares what it reads with a model of
 * the file both keep, unlocks and says so. The phases:
 *   1. fcntl F_SETLKW on SQLite's lock bytes (F_WRLCK for the writer,
 *      F_RDLCK for the reader, past the end of the file): A writes with
 *      pwrite, B reads through RB;
 *   2. fcntl F_SETLKW F_WRLCK on the whole file: A stores to WA and unlocks
 *      without msync, B reads with pread (and through RB);
 *   3. flock (LOCK_EX writer, LOCK_SH reader): as 1;
 *   4. flock LOCK_EX: as 2;
 *   5. fcntl F_WRLCK on the whole file: B writes with pwrite, A reads
 *      through its writable mapping WA (whose pages A wrote before);
 *   6. no lock: A writes with pwrite, B calls msync(RB, MS_INVALIDATE) and
 *      reads through RB.
 * At the end both mappings and the file (a descriptor of its own) equal the
 * model; A unmaps, and the file still does.
 * Under pageshim each process checks its own counters: its mapping managed;
 * the reader of each phase found the file changed by the other process
 * (external_modifications grew); the writer of phases 2 and 4 wrote its
 * pages back at unlock (pages_written_back grew by a page a round at least).
 * The library says nothing on stderr: a page changed by the other process
 * under a lock is not a corrupted page (no "checksum mismatch"). */
// pageshim-stderr: 2
#include <sys/file.h>

#include "helpers.h"

#define SIZE (2 * MiB)
#define NP (SIZE / PAGE)
#define ROUNDS 50
#define SEED 61
#define REC(ph) (64 + 32 * (ph))        /* the phase's record on page 0 */
#define REC_LEN 24
/* SQLite's lock bytes (os_unix.c): 1 GiB in, past the end of the file. */
#define SHARED_FIRST (0x40000000 + 2)
#define SHARED_SIZE 510

enum lock_kind { L_NONE, L_FCNTL_SQLITE, L_FCNTL_ALL, L_FLOCK };

static const struct phase {
	const char *name;
	int writer_is_a;        /* else B writes and A reads */
	enum lock_kind lock;
	int reader_shared;      /* the reader's lock is a shared one */
	int by_map;             /* the writer stores to WA (else pwrite) */
	int reader_pread;       /* the reader also preads the whole file */
} phases[] = {
	{ "fcntl (SQLite's lock bytes): pwrite, read through a read-only mapping", 1,
	  L_FCNTL_SQLITE, 1, 0, 0 },
	{ "fcntl: stores to a writable mapping, unlock without msync, pread", 1, L_FCNTL_ALL, 0, 1,
	  1 },
	{ "flock: pwrite, read through a read-only mapping", 1, L_FLOCK, 1, 0, 0 },
	{ "flock: stores to a writable mapping, unlock without msync, pread", 1, L_FLOCK, 0, 1, 1 },
	{ "fcntl: pwrite by the other process, read through a writable mapping", 0, L_FCNTL_ALL, 0,
	  0, 0 },
	{ "msync(MS_INVALIDATE): pwrite, read through a read-only mapping", 1, L_NONE, 0, 0, 0 },
};

static char *path;
static uint8_t model[SIZE];     /* what the file must hold */
static const char *me;          /* "A" or "B" */
static pid_t child;             /* in A: B */

/* ---- pipes, locks ---------------------------------------------------------- */

static void put(int fd, char c)
{
	check(write(fd, &c, 1) == 1, "%s: pipe write: %s", me, strerror(errno));
}

static void get(int fd, char want)
{
	char c = 0;
	ssize_t n = read(fd, &c, 1);
	check(n != 1 || c == want, "%s: pipe read: expected '%c', got '%c'", me, want, c);
	if (n == 0 && child > 0) {      /* B is gone: reap it, say how it ended */
		int status = 0;
		pid_t w = waitpid(child, &status, 0);
		fail("%s: pipe read: expected '%c', got end of file: B ended, status %#x (%s)", me,
		     want, status, w == child ? "its output is above" : strerror(errno));
	}
	check(n == 1, "%s: pipe read: expected '%c', got %s", me, want,
	      n < 0 ? strerror(errno) : "end of file (the other process is gone)");
}

static void set_lock(int fd, enum lock_kind k, int type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };
	switch (k) {
	case L_NONE:
		return;
	case L_FCNTL_SQLITE:
		fl.l_start = SHARED_FIRST, fl.l_len = SHARED_SIZE;
		/* fall through */
	case L_FCNTL_ALL:
		check(fcntl(fd, F_SETLKW, &fl) == 0, "%s: fcntl(F_SETLKW, type %d): %s", me, type,
		      strerror(errno));
		return;
	case L_FLOCK: {
		int op = type == F_UNLCK ? LOCK_UN : type == F_RDLCK ? LOCK_SH : LOCK_EX;
		check(flock(fd, op) == 0, "%s: flock(%d): %s", me, op, strerror(errno));
		return;
	}
	}
}

/* ---- the changes ----------------------------------------------------------- */

/* Round r of phase ph, applied to the model: one whole page (returned) and
 * the phase's record on page 0. */
static uint64_t change_model(int ph, int r)
{
	uint64_t pg = 1 + ((uint64_t)r * 37 + (uint64_t)ph * 101) % (NP - 1);
	fill_pattern(model + pg * PAGE, pg * PAGE, PAGE, 1000 + 100 * (uint64_t)ph + (uint64_t)r);
	uint64_t rec[3] = { (uint64_t)ph, (uint64_t)r, pat_word((uint64_t)r, (uint64_t)ph + 77) };
	memcpy(model + REC(ph), rec, REC_LEN);
	return pg;
}

static void write_round(const struct phase *p, int ph, int r, int fd, uint8_t *wa)
{
	uint64_t pg = change_model(ph, r);
	if (p->by_map) {
		memcpy(wa + pg * PAGE, model + pg * PAGE, PAGE);
		memcpy(wa + REC(ph), model + REC(ph), REC_LEN);
		return;
	}
	check(pwrite(fd, model + pg * PAGE, PAGE, (off_t)(pg * PAGE)) == (ssize_t)PAGE,
	      "%s: pwrite of page %llu: %s", me, U(pg), strerror(errno));
	check(pwrite(fd, model + REC(ph), REC_LEN, REC(ph)) == REC_LEN,
	      "%s: pwrite of the record: %s", me, strerror(errno));
}

static void read_round(const struct phase *p, int ph, int r, int fd, const uint8_t *m)
{
	char what[256];
	change_model(ph, r);
	if (p->lock == L_NONE) {
		DOING("msync(MS_INVALIDATE)");
		check(msync((void *)m, SIZE, MS_INVALIDATE) == 0, "%s: msync(MS_INVALIDATE): %s", me,
		      strerror(errno));
	}
	if (p->reader_pread) {
		snprintf(what, sizeof what, "%s: phase %d (%s), round %d: pread of the file", me,
			 ph + 1, p->name, r);
		expect_file_is(fd, model, 0, SIZE, what);
	}
	snprintf(what, sizeof what, "%s: phase %d (%s), round %d: its mapping", me, ph + 1, p->name,
		 r);
	expect_bytes(m, model, SIZE, what);
}

/* ---- one process ----------------------------------------------------------- */

static void run(int is_a, int rd, int wr)
{
	me = is_a ? "A" : "B";
	char what[256];
	struct pageshim_stats s0, s1, s2;
	stats_get(&s0);
	int fd = xopen(path, O_RDWR);
	uint8_t *m = xmmap(SIZE, is_a ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
	snprintf(what, sizeof what, "%s: its mapping at the start", me);
	expect_bytes(m, model, SIZE, what);
	stats_get(&s1);
	snprintf(what, sizeof what, "%s: %s", me,
		 is_a ? "MAP_SHARED|PROT_WRITE" : "MAP_SHARED PROT_READ of an O_RDWR file");
	expect_managed(&s0, &s1, 1, what);
	expect_filled(&s0, &s1, NP, what);
	put(wr, 's');                   /* both have read the file as it was */
	get(rd, 's');

	for (int ph = 0; ph < (int)ARRAY_SIZE(phases); ph++) {
		const struct phase *p = &phases[ph];
		int writing = p->writer_is_a == is_a;
		stats_get(&s1);
		for (int r = 0; r < ROUNDS; r++) {
			if (writing) {
				set_lock(fd, p->lock, F_WRLCK);
				write_round(p, ph, r, fd, m);
				set_lock(fd, p->lock, F_UNLCK);
				put(wr, 'w');
				get(rd, 'r');
			} else {
				get(rd, 'w');
				set_lock(fd, p->lock, p->reader_shared ? F_RDLCK : F_WRLCK);
				read_round(p, ph, r, fd, m);
				set_lock(fd, p->lock, F_UNLCK);
				put(wr, 'r');
			}
		}
		stats_get(&s2);
		snprintf(what, sizeof what, "%s, %s of phase %d (%s)", me,
			 writing ? "writer" : "reader", ph + 1, p->name);
		stats_print(what, &s2);
		if (!writing)
			expect_grew(&s1, &s2, external_modifications, 1, what);
		else if (p->by_map)
			expect_grew(&s1, &s2, pages_written_back, ROUNDS, what);
	}

	snprintf(what, sizeof what, "%s: its mapping at the end", me);
	expect_bytes(m, model, SIZE, what);
	snprintf(what, sizeof what, "%s: the file at the end (a descriptor of its own)", me);
	expect_path_is(path, model, SIZE, what);
	ok(munmap(m, SIZE));
	ok(close(fd));
}

int main(void)
{
	t_init(60);
	path = tpath("data");
	make_file(path, SIZE, SEED);
	fill_pattern(model, 0, SIZE, SEED);

	int a2b[2], b2a[2];
	ok(pipe2(a2b, O_CLOEXEC));
	ok(pipe2(b2a, O_CLOEXEC));
	pid_t pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	child = pid;
	if (pid == 0) {
		alarm(60);
		ok(close(a2b[1]));
		ok(close(b2a[0]));
		run(0, a2b[0], b2a[1]);
		exit(0);
	}
	ok(close(a2b[0]));
	ok(close(b2a[1]));
	run(1, b2a[0], a2b[1]);

	int status;
	check(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "B: expected exit 0, got status %#x (its output is above)", status);
	int fd = xopen(path, O_RDONLY);
	expect_file_is(fd, model, 0, SIZE, "the file after both are done");
	ok(close(fd));
	note("cross-process: %zu phases x %d rounds, every change seen by the other process",
	     ARRAY_SIZE(phases), ROUNDS);
	return 0;
}
