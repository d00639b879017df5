/* fork_shared - MAP_SHARED|PROT_WRITE across fork(): one set of pages, and
 * a process's shared writes reach the file when it exits.
 *
 * A 16-page file. A first process (the "runner") never maps it: it forks
 * the "parent", which maps it from an O_RDWR descriptor MAP_SHARED|PROT_WRITE
 * (S) and MAP_PRIVATE|PROT_WRITE (P), writes S pages 0-1 and P pages 0-1,
 * reads pages 2-7 of both and forks a "child". Pipes order the steps:
 *   - the child sees the parent's pre-fork bytes in S and P, writes S pages
 *     4 (touched before the fork) and 12 (not) and P pages 3 (touched) and
 *     13 (not);
 *   - the parent sees the child's S pages and not its P pages, then writes S
 *     pages 5 and 14 and P pages 6 (touched) and 15 (not);
 *   - the child sees the parent's S pages and not its P pages, its own P
 *     pages are intact, a pread of its own descriptor shows every S write;
 *     it _exit()s, without msync or munmap;
 *   - the parent's S and P are still right, a pread shows every S write
 *     (no msync: a shared mapping and read() see one page cache), and it
 *     exit()s, without msync or munmap.
 * The runner then reads the file with a descriptor of its own: every shared
 * write of both sides is there, no private write is, every other byte is the
 * file's. Then a second process maps the file shared writable, writes two
 * pages (one read first, one not) and exit()s at once; the runner finds both
 * in the file.
 * Under pageshim: both mappings of the parent managed, its dirty S pages
 * written back at the fork (pages_written_back), the exiting writer's
 * mapping managed and its pages written back at exit (checked through the
 * file only: the process is gone). */
#include "helpers.h"

#define NP 16
#define LEN (NP * PAGE)
#define SEED 21

static char *path;
static uint8_t *S, *P;
/* The byte every byte of a page holds, 0 for the file's own bytes. */
static uint8_t file_now[NP];                    /* the file (= S) */
static uint8_t priv[NP];                        /* this process's P */

/* ---- pipes and children -------------------------------------------------- */

static void put(int fd, char c)
{
	check(write(fd, &c, 1) == 1, "pipe write: %s", strerror(errno));
}

static void get(int fd, char want)
{
	char c = 0;
	ssize_t n = read(fd, &c, 1);
	check(n != 1 || c == want, "pipe read: expected '%c', got '%c'", want, c);
	check(n == 1, "pipe read: expected '%c', got %s", want,
	      n < 0 ? strerror(errno) : "end of file (the other side is gone)");
}

static void wait_child(pid_t pid, const char *what)
{
	int status;
	check(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "%s: expected exit 0, got status %#x (its output is above)", what, status);
}

/* ---- expectations --------------------------------------------------------- */

/* Page pg of m: `b` everywhere, or the file's original bytes when b == 0. */
static void expect_page(const uint8_t *m, int pg, uint8_t b, const char *what)
{
	if (!b) {
		expect_pattern(m + pg * PAGE, pg * PAGE, PAGE, SEED, what);
		return;
	}
	static uint8_t want[PAGE];
	memset(want, b, PAGE);
	expect_bytes(m + pg * PAGE, want, PAGE, what);
}

static void expect_pages(const uint8_t *m, const uint8_t bytes[NP], const char *who,
			 const char *which)
{
	char what[128];
	for (int pg = 0; pg < NP; pg++) {
		snprintf(what, sizeof what, "%s: %s page %d", who, which, pg);
		expect_page(m, pg, bytes[pg], what);
	}
}

/* P: the pages this process wrote (or inherited written) hold its bytes;
 * the others are the file's. A page the file changed under is skipped: the
 * kernel shows the file as it is now there (P is not a snapshot), pageshim
 * promises that only for the process's own writes and at a lock. */
static void expect_private(const char *who)
{
	char what[128];
	for (int pg = 0; pg < NP; pg++) {
		if (!priv[pg] && file_now[pg])
			continue;
		snprintf(what, sizeof what, "%s: private mapping page %d", who, pg);
		expect_page(P, pg, priv[pg], what);
	}
}

/* S, P, and (when fd >= 0) the file read through fd. */
static void expect_all(int fd, const char *who)
{
	expect_pages(S, file_now, who, "shared mapping");
	expect_private(who);
	if (fd < 0)
		return;
	uint8_t *buf = malloc(LEN);
	check(buf, "malloc");
	check(pread(fd, buf, LEN, 0) == (ssize_t)LEN, "%s: pread: %s", who, strerror(errno));
	expect_pages(buf, file_now, who, "file (pread)");
	free(buf);
}

static void write_page(uint8_t *m, uint8_t *model, int pg, uint8_t b)
{
	memset(m + pg * PAGE, b, PAGE);
	model[pg] = b;
}

/* ---- the parent and its child --------------------------------------------- */

static void parent(void)
{
	alarm(30);
	struct pageshim_stats a, b, c;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	S = xmmap(LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	P = xmmap(LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	for (int pg = 0; pg <= 1; pg++) {
		write_page(S, file_now, pg, 0x30 + pg);
		write_page(P, priv, pg, 0x50 + pg);
	}
	for (int pg = 2; pg < 8; pg++)
		(void)*(volatile uint8_t *)(S + pg * PAGE),
			(void)*(volatile uint8_t *)(P + pg * PAGE);
	expect_all(-1, "parent before fork");
	stats_get(&b);
	stats_print("parent before fork", &b);
	expect_managed(&a, &b, 2, "parent: shared and private writable mappings");

	int down[2], up[2];
	pid_t pid = fork_piped(down, up);
	if (pid == 0) {
		ok(close(up[0]));
		ok(close(down[1]));
		expect_all(fd, "child after fork");
		write_page(S, file_now, 4, 0x64);       /* touched in the parent before the fork */
		write_page(S, file_now, 12, 0x6c);      /* never touched */
		write_page(P, priv, 3, 0x73);         /* touched before the fork */
		write_page(P, priv, 13, 0x7d);
		expect_all(fd, "child after its writes");
		put(up[1], '1');
		get(down[0], '2');
		file_now[5] = 0x85, file_now[14] = 0x8e;        /* the parent's */
		expect_all(fd, "child after the parent's writes");
		_exit(0);                               /* no msync, no munmap, no atexit */
	}
	ok(close(up[1]));
	ok(close(down[0]));
	stats_get(&c);
	stats_print("parent after fork", &c);
	expect_grew(&b, &c, pages_written_back, 2, "parent: dirty shared pages 0-1 at fork");

	get(up[0], '1');
	file_now[4] = 0x64, file_now[12] = 0x6c;        /* the child's */
	expect_all(fd, "parent after the child's writes");
	write_page(S, file_now, 5, 0x85);
	write_page(S, file_now, 14, 0x8e);
	write_page(P, priv, 6, 0x96);         /* touched before the fork */
	write_page(P, priv, 15, 0x9f);
	expect_all(fd, "parent after its writes");
	put(down[1], '2');
	wait_child(pid, "child");
	expect_all(fd, "parent after the child exited");
	exit(0);                                /* no msync, no munmap */
}

/* Maps the file shared writable, writes page 2 (read first) and page 9 (not
 * read), and exits at once. */
static void exiting_writer(void)
{
	alarm(30);
	struct pageshim_stats a, b;
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	S = xmmap(LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ok(close(fd));
	expect_readable(S + 2 * PAGE, "exiting writer: page 2 read first");
	memset(S + 2 * PAGE, 0xa2, PAGE);
	memset(S + 9 * PAGE, 0xa9, PAGE);
	stats_get(&b);
	expect_managed(&a, &b, 1, "exiting writer: shared writable mapping");
	exit(0);
}

int main(void)
{
	t_init(60);
	path = tpath("data");
	make_file(path, LEN, SEED);

	pid_t pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		parent();
	wait_child(pid, "parent");

	/* Every shared write of both sides, none of the private ones. */
	uint8_t want[NP] = { 0 };
	want[0] = 0x30, want[1] = 0x31;         /* parent, before the fork */
	want[4] = 0x64, want[12] = 0x6c;        /* child */
	want[5] = 0x85, want[14] = 0x8e;        /* parent, after the fork */
	int fd = xopen(path, O_RDONLY);
	check(file_size(fd) == LEN, "file size: expected %lu, got %llu", LEN, U(file_size(fd)));
	uint8_t *buf = malloc(LEN);
	check(buf, "malloc");
	check(pread(fd, buf, LEN, 0) == (ssize_t)LEN, "pread: %s", strerror(errno));
	expect_pages(buf, want, "runner after both exited", "file");

	pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		exiting_writer();
	wait_child(pid, "exiting writer");
	want[2] = 0xa2, want[9] = 0xa9;
	check(pread(fd, buf, LEN, 0) == (ssize_t)LEN, "pread: %s", strerror(errno));
	expect_pages(buf, want, "runner after the exiting writer", "file");
	free(buf);
	ok(close(fd));
	note("fork: shared writes seen by both sides and in the file, private ones by neither; "
	     "exit: shared writes reach the file");
	return 0;
}
