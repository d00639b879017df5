/* write_edges - corner cases of writing through MAP_SHARED|PROT_WRITE
 * mappings, from the review of the write path (each section one of its
 * findings; the kernel's behaviour is the reference in every section).
 *
 * 1. MADV_DONTNEED racing writes: a 64-page mapping; a thread calls
 *    madvise(MADV_DONTNEED) over all of it in a loop while the main thread
 *    writes for ~0.5 s, pass after pass (each pass a new pattern, one 8-byte
 *    word of each page in turn, so a page is written 512 times a pass and
 *    every word once; it stops where the time runs out). Every 32 words a
 *    page, and at the end, the whole mapping holds every word last written
 *    (the file's bytes where none was) while the madvise thread runs; then
 *    madvise never failed, ran at least 10 times, and after msync(MS_SYNC)
 *    and after munmap the file (raw pread64) holds the same.
 * 2. exec loses nothing: a child maps a 4 MiB file shared writable, closes
 *    the descriptor, writes 3 pages of every 4 and 10 bytes of the fourth,
 *    and execs /bin/true by execl, execve and execvp (one child each). The
 *    child exits 0 and the file holds every written byte, the file's own
 *    bytes elsewhere.
 * 3. fork then re-map: the parent maps a file shared writable (m1), writes,
 *    forks; the child writes a page through m1 and exits; the parent sees
 *    it, maps the file again (m2), reads a page of m2, then writes through
 *    m1 and m2 (the same page, and pages touched in only one of them). Both
 *    mappings and a pread agree with every write, as do the file after
 *    msync and after munmap.
 * 4. MADV_REMOVE on a locked range: pages written (some after the last
 *    msync), 16 pages mlock()ed; MADV_REMOVE over them fails with EINVAL
 *    (the kernel's answer: it refuses VM_LOCKED) and changes nothing: the
 *    mapping and a pread hold every write; writes to the locked pages after
 *    the refusal land (mapping, file after msync). After munlock (and one
 *    more write in the range), MADV_REMOVE returns 0: the range reads zeros
 *    in the mapping, a pread and the file after msync (size unchanged), the
 *    rest is intact, and a write into the hole lands.
 * 5. sendfile (and splice) into a managed file: a page dirtied through the
 *    mapping in two spots, then sendfile from another file writes a range of
 *    that page overlapping one spot: the mapping, a pread and the file
 *    (after msync, after munmap) hold the sendfile bytes where it wrote (it
 *    came last) and the mapped bytes elsewhere; the file position and the
 *    input offset move as the kernel moves them. The same across a page
 *    boundary with sendfile at the input's position (NULL offset), and for
 *    splice from a pipe with an output offset.
 * 6. int3: a child with a shared writable mapping (the library's fatal
 *    signal handlers installed) writes pages and executes int3: it dies of
 *    SIGTRAP, and its written pages are in the file.
 * 7. fork with a partially mprotect()ed mapping: a 16-page PROT_READ shared
 *    mapping of an O_RDWR file, page 1 made PROT_READ|PROT_WRITE and
 *    written, fork. The child sees the parent's write, writes page 1, and a
 *    write to pages 0 and 2 gets SIGSEGV (SEGV_ACCERR) at the address. The
 *    parent sees the child's write, writes page 1 again, still gets SIGSEGV
 *    on page 2, then mprotects page 5 writable and writes it (page 6 beside
 *    it still SEGV_ACCERR); a pread, and the file after msync and after
 *    munmap, hold every write.
 * Before an msync the file is read with pread (the library may write back
 * first, as shared_write), after it with raw pread64.
 * Under pageshim: every mapping made before any fork of its file was
 * managed; written pages were counted as dirtied and written back.
 * "write_edges 147" runs sections 1, 4 and 7 only (all when no argument). */
// pageshim-env: PAGESHIM_CACHE_SIZE=16M
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <time.h>

#include "helpers.h"

extern char **environ;

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

static int wait_for(pid_t pid)
{
	int st;
	check(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
	return st;
}

static void expect_exit0(pid_t pid, const char *what)
{
	int st = wait_for(pid);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "%s: expected the child to exit 0, got %s (its output is above)", what, status_text(st));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The whole file at fd, by raw pread64, equals want (len bytes, size too). */
static void expect_raw_file(int fd, const uint8_t *want, size_t len, const char *what)
{
	check(file_size(fd) == len, "%s: file size %llu, expected %llu", what, U(file_size(fd)),
	      U(len));
	uint8_t *buf = malloc(len);
	check(buf, "malloc %zu", len);
	raw_pread(fd, buf, len, 0, what);
	expect_bytes(buf, want, len, what);
	free(buf);
}

/* Write len bytes of `seed` at off through the mapping and into the model. */
static void put(uint8_t *m, uint8_t *model, uint64_t off, size_t len, uint64_t seed)
{
	fill_pattern(m + off, off, len, seed);
	fill_pattern(model + off, off, len, seed);
}

/* A child that must not leave a core file behind, with no signal blocked. */
static void quiet_child(void)
{
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core);
	prctl(PR_SET_DUMPABLE, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ---- 1. MADV_DONTNEED racing writes --------------------------------------- */

#define RACE_PAGES 64
#define RACE_LEN (RACE_PAGES * PAGE)
#define RACE_SECONDS 0.5

static uint8_t *race_map;
static int race_done;
static int race_err;
static unsigned long race_calls;

static void *zapper(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&race_done, __ATOMIC_ACQUIRE)) {
		if (madvise(race_map, RACE_LEN, MADV_DONTNEED)) {
			race_err = errno;
			break;
		}
		race_calls++;
	}
	return NULL;
}

static void dontneed_race(void)
{
	static uint8_t want[RACE_LEN];
	char *path = tpath("race");
	make_file(path, RACE_LEN, 11);
	struct pageshim_stats a, b, c;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	race_map = xmmap(RACE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	stats_get(&b);
	expect_managed(&a, &b, 1, "1: the raced mapping");

	pthread_t th;
	check(pthread_create(&th, NULL, zapper, NULL) == 0, "pthread_create");
	double t0 = now_s();
	unsigned pass = 0, rows = 0;
	unsigned long words = 0;
	char what[160];
	fill_pattern(want, 0, RACE_LEN, 11);    /* the model: the file's bytes, then each word written */
	for (int stop = 0; !stop; pass++) {
		uint64_t seed = 1000 + pass;
		snprintf(what, sizeof what, "1: pass %u, writing under MADV_DONTNEED", pass);
		DOING(what);
		/* Word by word across the pages: each page written 512 times a
		 * pass, each word once, with a new value each pass. */
		for (rows = 0; rows < PAGE / 8 && !stop; rows++) {
			for (size_t pg = 0; pg < RACE_PAGES; pg++) {
				uint64_t off = pg * PAGE + rows * 8, w = pat_word(off, seed);
				*(volatile uint64_t *)(race_map + off) = w;
				memcpy(want + off, &w, 8);
			}
			stop = now_s() - t0 >= RACE_SECONDS;
			words += RACE_PAGES;
			if (stop || (rows + 1) % 32 == 0) {
				snprintf(what, sizeof what, "1: the mapping in pass %u after %u words a page "
					 "(MADV_DONTNEED still running)", pass, rows + 1);
				expect_bytes(race_map, want, RACE_LEN, what);
			}
		}
	}
	__atomic_store_n(&race_done, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	check(race_err == 0, "1: madvise(MADV_DONTNEED) of the shared writable mapping failed: %s",
	      strerror(race_err));
	check(race_calls >= 10, "1: expected the MADV_DONTNEED thread to run (>= 10 calls), got %lu",
	      race_calls);
	expect_bytes(race_map, want, RACE_LEN, "1: the mapping after the race");
	DOING("1: msync(MS_SYNC)");
	check(msync(race_map, RACE_LEN, MS_SYNC) == 0, "1: msync(MS_SYNC): %s", strerror(errno));
	expect_raw_file(fd, want, RACE_LEN, "1: the file after the race and msync");
	ok(munmap(race_map, RACE_LEN));
	expect_raw_file(fd, want, RACE_LEN, "1: the file after munmap");
	ok(close(fd));
	stats_get(&c);
	expect_grew(&a, &c, pages_dirtied, RACE_PAGES, "1: the raced writes");
	expect_grew(&a, &c, pages_written_back, RACE_PAGES, "1: the raced writes, after msync");
	note("1: %lu words written (%u passes begun, the last %u words a page) in %.2f s against %lu "
	     "MADV_DONTNEED calls: every byte in the mapping and the file", words, pass, rows,
	     now_s() - t0, race_calls);
}

/* ---- 2. exec ------------------------------------------------------------- */

#define EXEC_SIZE (4 * MiB)
#define EXEC_PAGES (EXEC_SIZE / PAGE)
#define EXEC_FILE_SEED 21
#define EXEC_PARTIAL_OFF (3 * PAGE + 1001)      /* page 3: one of those left alone */
#define EXEC_PARTIAL_LEN 10

enum exec_way { VIA_EXECL, VIA_EXECVE, VIA_EXECVP };
static const char *const exec_names[] = { "execl", "execve", "execvp" };

static int exec_written(uint64_t pg) { return pg % 4 != 3; }

static void exec_expected(uint8_t *buf, uint64_t seed)
{
	for (uint64_t pg = 0; pg < EXEC_PAGES; pg++)
		fill_pattern(buf + pg * PAGE, pg * PAGE, PAGE, exec_written(pg) ? seed : EXEC_FILE_SEED);
	fill_pattern(buf + EXEC_PARTIAL_OFF, EXEC_PARTIAL_OFF, EXEC_PARTIAL_LEN, seed);
}

static void exec_child(const char *path, enum exec_way way, uint64_t seed)
{
	quiet_child();
	struct pageshim_stats a, b;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	uint8_t *p = xmmap(EXEC_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ok(close(fd));
	DOING("2: child writing before exec");
	uint64_t n = write_pages(p, EXEC_PAGES, exec_written, EXEC_PARTIAL_OFF, EXEC_PARTIAL_LEN, seed);
	stats_get(&b);
	expect_managed(&a, &b, 1, "2: the child's mapping");
	/* n / 2, as exit_writeback: a page written during its write-back may
	 * not count as dirtied again. */
	expect_grew(&a, &b, pages_dirtied, n / 2, "2: the child's writes");
	fflush(stdout);
	char *argv[] = { "true", NULL };
	switch (way) {
	case VIA_EXECL:
		execl("/bin/true", "true", (char *)NULL);
		break;
	case VIA_EXECVE:
		execve("/bin/true", argv, environ);
		break;
	case VIA_EXECVP:
		execvp("true", argv);
		break;
	}
	fail("2: %s of true: %s", exec_names[way], strerror(errno));
}

static void exec_loses_nothing(void)
{
	static uint8_t want[EXEC_SIZE];
	char what[160];
	for (enum exec_way way = VIA_EXECL; way <= VIA_EXECVP; way++) {
		char *path = tpath("exec.%d", (int)way);
		uint64_t seed = 22 + way;
		make_file(path, EXEC_SIZE, EXEC_FILE_SEED);
		fflush(stdout);
		pid_t pid = fork();
		check(pid >= 0, "fork: %s", strerror(errno));
		if (pid == 0) {
			alarm(20);
			exec_child(path, way, seed);
		}
		snprintf(what, sizeof what, "2: child writing 4 MiB, then %s(true)", exec_names[way]);
		expect_exit0(pid, what);
		exec_expected(want, seed);
		int fd = xopen(path, O_RDONLY);
		snprintf(what, sizeof what, "2: the file after the child's %s", exec_names[way]);
		expect_raw_file(fd, want, EXEC_SIZE, what);
		ok(close(fd));
	}
	note("2: 4 MiB written then execl / execve / execvp: every byte in the file");
}

/* ---- 3. fork, then the same file mapped again ------------------------------ */

#define RM_PAGES 64
#define RM_LEN (RM_PAGES * PAGE)

static void fork_remap(void)
{
	static uint8_t model[RM_LEN];
	char *path = tpath("remap");
	make_file(path, RM_LEN, 31);
	fill_pattern(model, 0, RM_LEN, 31);
	struct pageshim_stats a, b;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	uint8_t *m1 = xmmap(RM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	stats_get(&b);
	expect_managed(&a, &b, 1, "3: m1, before the fork");
	put(m1, model, 0, PAGE, 32);                    /* page 0 whole */
	put(m1, model, PAGE + 500, 20, 32);             /* page 1, a few bytes */
	touch_pages(m1, 2, 8);

	fflush(stdout);
	pid_t pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(20);
		expect_bytes(m1, model, RM_LEN, "3: the child's m1 (the parent's writes before the fork)");
		fill_pattern(m1 + 3 * PAGE, 3 * PAGE, PAGE, 33);
		_exit(0);
	}
	expect_exit0(pid, "3: the child writing page 3 through m1");
	fill_pattern(model + 3 * PAGE, 3 * PAGE, PAGE, 33);
	expect_bytes(m1, model, RM_LEN, "3: m1 after the child wrote page 3");

	uint8_t *m2 = xmmap(RM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check(((volatile uint8_t *)m2)[100] == model[100], "3: m2[100]: expected %#04x, got %#04x",
	      model[100], m2[100]);                    /* page 0 in m2 */
	touch_pages(m2, 5, 6);
	put(m1, model, 100, 16, 34);                    /* page 0, through m1 */
	put(m2, model, 200, 16, 35);                    /* page 0, through m2 */
	put(m1, model, 10 * PAGE, PAGE, 36);            /* not touched in m2 */
	put(m2, model, 11 * PAGE, PAGE, 37);            /* not touched in m1 */
	put(m2, model, 3 * PAGE + 50, 10, 38);          /* the child's page */
	put(m1, model, 5 * PAGE + 7, 9, 39);            /* read in m2 */
	expect_bytes(m1, model, RM_LEN, "3: m1 after writes through m1 and m2");
	expect_bytes(m2, model, RM_LEN, "3: m2 after writes through m1 and m2");
	int other = xopen(path, O_RDONLY);
	expect_file_is(other, model, 0, RM_LEN, "3: pread of a second descriptor, before msync");
	check(msync(m2, RM_LEN, MS_SYNC) == 0, "3: msync(m2): %s", strerror(errno));
	check(msync(m1, RM_LEN, MS_SYNC) == 0, "3: msync(m1): %s", strerror(errno));
	expect_raw_file(other, model, RM_LEN, "3: the file after msync of m2 and m1");
	ok(munmap(m2, RM_LEN));
	put(m1, model, 12 * PAGE + 3, 30, 40);          /* m1 alone again */
	expect_bytes(m1, model, RM_LEN, "3: m1 after m2's munmap and a write");
	ok(munmap(m1, RM_LEN));
	expect_raw_file(other, model, RM_LEN, "3: the file after munmap of both");
	ok(close(other));
	ok(close(fd));
	note("3: fork, then the file mapped again: m1, m2, pread and the file agree");
}

/* ---- 4. MADV_REMOVE on a locked range ------------------------------------- */

#define RL_PAGES 64
#define RL_LEN (RL_PAGES * PAGE)
#define RL_LOCKED 16

static void remove_locked(void)
{
	static uint8_t model[RL_LEN];
	char *path = tpath("remove");
	make_file(path, RL_LEN, 41);
	fill_pattern(model, 0, RL_LEN, 41);
	struct pageshim_stats a, b, c;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	uint8_t *m = xmmap(RL_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	stats_get(&b);
	expect_managed(&a, &b, 1, "4: the mapping");
	put(m, model, 0, 8 * PAGE, 42);                 /* pages 0-7 ... */
	check(msync(m, RL_LEN, MS_SYNC) == 0, "4: msync: %s", strerror(errno));
	put(m, model, 4 * PAGE, 8 * PAGE, 43);          /* ... 4-11 again, not msync'ed */
	put(m, model, 20 * PAGE + 9, 40, 44);           /* outside the locked range */
	check(mlock(m, RL_LOCKED * PAGE) == 0, "4: mlock of %d pages: %s", RL_LOCKED, strerror(errno));

	DOING("4: MADV_REMOVE of the locked range");
	errno = 0;
	int r = madvise(m, RL_LOCKED * PAGE, MADV_REMOVE);
	check(r == -1 && errno == EINVAL,
	      "4: madvise(MADV_REMOVE) of an mlock()ed shared writable range: expected EINVAL, got %s",
	      r == 0 ? "success" : strerror(errno));
	expect_bytes(m, model, RL_LEN, "4: the mapping after the refused MADV_REMOVE");
	expect_file_is(fd, model, 0, RL_LEN, "4: pread after the refused MADV_REMOVE");
	put(m, model, 0, 100, 45);                      /* a locked page, after the refusal */
	put(m, model, 9 * PAGE + 4000, 96, 45);
	expect_bytes(m, model, RL_LEN, "4: the mapping after writes to the locked pages");
	check(msync(m, RL_LEN, MS_SYNC) == 0, "4: msync: %s", strerror(errno));
	expect_raw_file(fd, model, RL_LEN, "4: the file after writes to the locked pages and msync");

	check(munlock(m, RL_LOCKED * PAGE) == 0, "4: munlock: %s", strerror(errno));
	put(m, model, 2 * PAGE, 10, 46);                /* dirty again, about to be removed */
	DOING("4: MADV_REMOVE after munlock");
	check(madvise(m, RL_LOCKED * PAGE, MADV_REMOVE) == 0,
	      "4: madvise(MADV_REMOVE) after munlock: %s", strerror(errno));
	memset(model, 0, RL_LOCKED * PAGE);
	expect_bytes(m, model, RL_LEN, "4: the mapping after MADV_REMOVE (zeros, then the rest)");
	expect_file_is(fd, model, 0, RL_LEN, "4: pread after MADV_REMOVE");
	check(msync(m, RL_LEN, MS_SYNC) == 0, "4: msync: %s", strerror(errno));
	expect_raw_file(fd, model, RL_LEN, "4: the file after MADV_REMOVE and msync");
	put(m, model, PAGE + 17, 33, 47);               /* into the hole */
	expect_bytes(m, model, RL_LEN, "4: the mapping after a write into the hole");
	check(msync(m, RL_LEN, MS_SYNC) == 0, "4: msync: %s", strerror(errno));
	expect_raw_file(fd, model, RL_LEN, "4: the file after a write into the hole and msync");
	ok(munmap(m, RL_LEN));
	expect_raw_file(fd, model, RL_LEN, "4: the file after munmap");
	ok(close(fd));
	stats_get(&c);
	expect_grew(&a, &c, pages_written_back, 12, "4: pages written before and after the refusal");
	note("4: MADV_REMOVE of a locked range: EINVAL, nothing changed; after munlock: zeros");
}

/* ---- 5. sendfile and splice into a managed file ---------------------------- */

#define SF_PAGES 16
#define SF_LEN (SF_PAGES * PAGE)
#define SF_SRC_SEED 52

static off_t position(int fd)
{
	off_t o = lseek(fd, 0, SEEK_CUR);
	check(o != -1, "lseek(SEEK_CUR): %s", strerror(errno));
	return o;
}

static void sendfile_in(void)
{
	static uint8_t model[SF_LEN];
	char *path = tpath("sendfile.out"), *spath = tpath("sendfile.in");
	make_file(path, SF_LEN, 51);
	make_file(spath, 8 * PAGE, SF_SRC_SEED);
	fill_pattern(model, 0, SF_LEN, 51);
	struct pageshim_stats a, b, c;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	int src = xopen(spath, O_RDONLY);
	int other = xopen(path, O_RDONLY);
	uint8_t *m = xmmap(SF_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	stats_get(&b);
	expect_managed(&a, &b, 1, "5: the mapping of the output file");

	/* (a) page 2, written at 100 and 3000; sendfile over [50, 150) of it. */
	put(m, model, 2 * PAGE + 100, 16, 53);
	put(m, model, 2 * PAGE + 3000, 16, 54);
	ok(lseek(fd, 2 * PAGE + 50, SEEK_SET));
	off_t in = 1000;
	DOING("5: sendfile with an input offset");
	ssize_t n = sendfile(fd, src, &in, 100);
	check(n == 100, "5: sendfile(100 bytes into page 2): returned %zd: %s", n,
	      n < 0 ? strerror(errno) : "short");
	check(in == 1100, "5: sendfile's input offset: expected 1100, got %lld", (long long)in);
	check(position(fd) == (off_t)(2 * PAGE + 150), "5: the output position after sendfile: "
	      "expected %llu, got %lld", U(2 * PAGE + 150), (long long)position(fd));
	check(position(src) == 0, "5: the input position after sendfile with an offset: expected 0, "
	      "got %lld", (long long)position(src));
	fill_pattern(model + 2 * PAGE + 50, 1000, 100, SF_SRC_SEED);
	expect_bytes(m, model, SF_LEN, "5: the mapping after sendfile into a written page");
	expect_file_is(other, model, 0, SF_LEN, "5: pread after sendfile into a written page");

	/* (b) pages 6 and 7, written on both; sendfile at the input's position
	 * over [7 * PAGE - 100, 7 * PAGE + 100). */
	put(m, model, 6 * PAGE + 10, 10, 55);
	put(m, model, 7 * PAGE + 50, 10, 55);           /* overwritten by sendfile */
	put(m, model, 7 * PAGE + 500, 10, 56);
	ok(lseek(fd, 7 * PAGE - 100, SEEK_SET));
	ok(lseek(src, 3000, SEEK_SET));
	DOING("5: sendfile at the input's position, across a page boundary");
	n = sendfile(fd, src, NULL, 200);
	check(n == 200, "5: sendfile(200 bytes across pages 6-7): returned %zd: %s", n,
	      n < 0 ? strerror(errno) : "short");
	check(position(src) == 3200, "5: the input position after sendfile: expected 3200, got %lld",
	      (long long)position(src));
	check(position(fd) == (off_t)(7 * PAGE + 100), "5: the output position after sendfile: "
	      "expected %llu, got %lld", U(7 * PAGE + 100), (long long)position(fd));
	fill_pattern(model + 7 * PAGE - 100, 3000, 200, SF_SRC_SEED);
	expect_bytes(m, model, SF_LEN, "5: the mapping after sendfile across two written pages");
	expect_file_is(other, model, 0, SF_LEN, "5: pread after sendfile across two written pages");

	/* (c) page 9, written at 0 and 1000; splice from a pipe at [8, 72). */
	put(m, model, 9 * PAGE, 16, 57);
	put(m, model, 9 * PAGE + 1000, 16, 58);
	uint8_t bytes[64];
	fill_pattern(bytes, 9 * PAGE + 8, sizeof bytes, 59);
	int pfd[2];
	ok(pipe2(pfd, O_CLOEXEC));
	check(write(pfd[1], bytes, sizeof bytes) == (ssize_t)sizeof bytes, "5: pipe write: %s",
	      strerror(errno));
	ok(lseek(fd, 0, SEEK_SET));
	off_t out = 9 * PAGE + 8;
	DOING("5: splice from a pipe with an output offset");
	n = splice(pfd[0], NULL, fd, &out, sizeof bytes, 0);
	check(n == (ssize_t)sizeof bytes, "5: splice(64 bytes into page 9): returned %zd: %s", n,
	      n < 0 ? strerror(errno) : "short");
	check(out == (off_t)(9 * PAGE + 72), "5: splice's output offset: expected %llu, got %lld",
	      U(9 * PAGE + 72), (long long)out);
	check(position(fd) == 0, "5: the output position after splice with an offset: expected 0, "
	      "got %lld", (long long)position(fd));
	memcpy(model + 9 * PAGE + 8, bytes, sizeof bytes);
	ok(close(pfd[0]));
	ok(close(pfd[1]));
	expect_bytes(m, model, SF_LEN, "5: the mapping after splice into a written page");
	expect_file_is(other, model, 0, SF_LEN, "5: pread after splice into a written page");

	check(msync(m, SF_LEN, MS_SYNC) == 0, "5: msync: %s", strerror(errno));
	expect_raw_file(other, model, SF_LEN, "5: the file after msync");
	expect_bytes(m, model, SF_LEN, "5: the mapping after msync");
	ok(munmap(m, SF_LEN));
	expect_raw_file(other, model, SF_LEN, "5: the file after munmap");
	ok(close(fd));
	ok(close(src));
	ok(close(other));
	stats_get(&c);
	expect_grew(&a, &c, pages_written_back, 4, "5: the written pages");
	note("5: sendfile and splice into written pages: their bytes where they wrote, the mapped "
	     "bytes elsewhere, in the mapping and the file");
}

/* ---- 6. int3 ------------------------------------------------------------- */

#define TRAP_PAGES 64
#define TRAP_LEN (TRAP_PAGES * PAGE)

static void trap_child(const char *path)
{
	quiet_child();
	signal(SIGTRAP, SIG_DFL);
	struct pageshim_stats a, b;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	uint8_t *p = xmmap(TRAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ok(close(fd));
	for (uint64_t pg = 0; pg < TRAP_PAGES; pg += 2)
		fill_pattern(p + pg * PAGE, pg * PAGE, PAGE, 62);
	stats_get(&b);
	expect_managed(&a, &b, 1, "6: the child's mapping");
	expect_grew(&a, &b, pages_dirtied, TRAP_PAGES / 4, "6: the child's writes");
	fflush(stdout);
	__asm__ volatile("int3");
	note("6: the child went on past int3");
	_exit(99);
}

static void int3_dies(void)
{
	static uint8_t want[TRAP_LEN];
	char *path = tpath("trap");
	make_file(path, TRAP_LEN, 61);
	fflush(stdout);
	pid_t pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(20);
		trap_child(path);
	}
	int st = wait_for(pid);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGTRAP,
	      "6: int3 in a child with a shared writable mapping: expected death by SIGTRAP, got %s",
	      status_text(st));
	for (uint64_t pg = 0; pg < TRAP_PAGES; pg++)
		fill_pattern(want + pg * PAGE, pg * PAGE, PAGE, pg % 2 ? 61 : 62);
	int fd = xopen(path, O_RDONLY);
	expect_raw_file(fd, want, TRAP_LEN, "6: the file after the child's death by SIGTRAP");
	ok(close(fd));
	note("6: int3: %s, written pages in the file", status_text(st));
}

/* ---- 7. fork with a partly writable mapping -------------------------------- */

#define FP_PAGES 16
#define FP_LEN (FP_PAGES * PAGE)

static void fork_mprotect(void)
{
	static uint8_t model[FP_LEN];
	char *path = tpath("fork_prot");
	make_file(path, FP_LEN, 71);
	fill_pattern(model, 0, FP_LEN, 71);
	struct pageshim_stats a, b;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	uint8_t *m = xmmap(FP_LEN, PROT_READ, MAP_SHARED, fd, 0);
	stats_get(&b);
	expect_managed(&a, &b, 1, "7: the read-only mapping");
	expect_bytes(m, model, FP_LEN, "7: the mapping, read-only");
	check(mprotect(m + PAGE, PAGE, PROT_READ | PROT_WRITE) == 0,
	      "7: mprotect(page 1, PROT_READ|PROT_WRITE): %s", strerror(errno));
	put(m, model, PAGE, 8, 72);

	fflush(stdout);
	pid_t pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(20);
		expect_bytes(m, model, FP_LEN, "7: the child's mapping (the parent's write before the fork)");
		put(m, model, PAGE + 100, 50, 73);
		expect_bytes(m, model, FP_LEN, "7: the child's mapping after its write to page 1");
		expect_signal(m + 2 * PAGE, 1, SIGSEGV, SEGV_ACCERR,
			      "7: the child writing page 2 (read-only)");
		expect_signal(m + PAGE - 1, 1, SIGSEGV, SEGV_ACCERR,
			      "7: the child writing the last byte of page 0 (read-only)");
		expect_bytes(m, model, FP_LEN, "7: the child's mapping after the refused writes");
		_exit(0);
	}
	expect_exit0(pid, "7: the child writing page 1 and probing pages 0 and 2");
	fill_pattern(model + PAGE + 100, PAGE + 100, 50, 73);
	expect_bytes(m, model, FP_LEN, "7: the parent's mapping after the child's write");
	put(m, model, PAGE + 1, 1, 74);                 /* the reviewer's write after the fork */
	put(m, model, PAGE + 2000, 20, 74);
	expect_signal(m + 2 * PAGE + 5, 1, SIGSEGV, SEGV_ACCERR,
		      "7: the parent writing page 2 (read-only) after the fork");
	check(mprotect(m + 5 * PAGE, PAGE, PROT_READ | PROT_WRITE) == 0,
	      "7: mprotect(page 5, PROT_READ|PROT_WRITE) after the fork: %s", strerror(errno));
	put(m, model, 5 * PAGE + 300, 30, 75);
	expect_signal(m + 6 * PAGE, 1, SIGSEGV, SEGV_ACCERR,
		      "7: the parent writing page 6 (read-only) after page 5 was made writable");
	expect_bytes(m, model, FP_LEN, "7: the parent's mapping after its writes");
	int other = xopen(path, O_RDONLY);
	expect_file_is(other, model, 0, FP_LEN, "7: pread of a second descriptor, before msync");
	check(msync(m, FP_LEN, MS_SYNC) == 0, "7: msync: %s", strerror(errno));
	expect_raw_file(other, model, FP_LEN, "7: the file after msync");
	ok(munmap(m, FP_LEN));
	expect_raw_file(other, model, FP_LEN, "7: the file after munmap");
	ok(close(other));
	ok(close(fd));
	note("7: fork with one writable page: writes there shared both ways, SEGV_ACCERR beside it");
}

/* write_edges [DIGITS]: only the sections named (e.g. "147"), else all. */
int main(int argc, char **argv)
{
	static void (*const sections[])(void) = { dontneed_race, exec_loses_nothing, fork_remap,
						  remove_locked, sendfile_in, int3_dies, fork_mprotect };
	t_init(30);
	struct pageshim_stats a, z;
	stats_get(&a);
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (argc < 2 || strchr(argv[1], (int)('1' + i)))
			sections[i]();
	stats_get(&z);
	stats_print("end", &z);
	expect_released(&a, &z, "after every section's munmap");
	note("write_edges: 7 sections, each as the kernel does it");
	return 0;
}
