/* fork_child - mappings across fork(), and a clean exec().
 *
 * The parent maps a file shared read-only (S) and private writable (P),
 * touches pages 0-7 of both, writes P pages 2-3, and forks. The child reads
 * every page of both right (touched in the parent or not) and sees the
 * parent's pre-fork writes; after that, each side's writes to P are its own:
 * the child's writes are invisible to the parent and the parent's later
 * writes invisible to the child (pipes order the steps). Then a child
 * re-executes this program: it must hold no userfaultfd descriptor and no
 * descriptor of the data file, and under pageshim its own mapping works. */
#include <dirent.h>

#include "helpers.h"

#define NP 32
#define LEN (NP * PAGE)
#define SEED 9

static uint8_t *S, *P;

/* P's page pg: the byte `b` everywhere, or the file's bytes when b == 0. */
static void expect_p(int pg, uint8_t b, const char *who)
{
	char what[96];
	snprintf(what, sizeof what, "%s: private page %d", who, pg);
	if (!b) {
		expect_pattern(P + pg * PAGE, pg * PAGE, PAGE, SEED, what);
		return;
	}
	uint8_t want[PAGE];
	memset(want, b, PAGE);
	expect_bytes(P + pg * PAGE, want, PAGE, what);
}

/* The whole of P: pages in `mine` hold their byte, the rest the file's. */
static void expect_all(const uint8_t mine[NP], const char *who)
{
	char what[96];
	snprintf(what, sizeof what, "%s: shared mapping", who);
	expect_pattern(S, 0, LEN, SEED, what);
	for (int pg = 0; pg < NP; pg++)
		expect_p(pg, mine[pg], who);
}

static void put(int fd, char c)
{
	check(write(fd, &c, 1) == 1, "pipe write: %s", strerror(errno));
}

static void get(int fd, char want)
{
	char c = 0;
	check(read(fd, &c, 1) == 1 && c == want, "pipe read: expected '%c', got '%c' (%s)", want, c,
	      strerror(errno));
}

static int wait_child(pid_t pid, const char *what)
{
	int status;
	check(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "%s: expected exit 0, got status %#x (its output is above)", what, status);
	return 0;
}

/* Run after exec: no inherited userfaultfd or backing-file descriptor. */
static int exec_child(const char *data)
{
	t_init(30);
	DIR *d = opendir("/proc/self/fd");
	check(d, "opendir /proc/self/fd: %s", strerror(errno));
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		char link[PATH_MAX + 32], target[PATH_MAX];
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		ssize_t len = readlink(link, target, sizeof target - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		n++;
		check(strcmp(target, "anon_inode:[userfaultfd]"),
		      "exec child: fd %s is a userfaultfd left open across exec", e->d_name);
		check(strcmp(target, data), "exec child: fd %s is the data file %s left open across exec",
		      e->d_name, data);
	}
	closedir(d);

	struct pageshim_stats a, b;
	stats_get(&a);
	int fd = xopen(data, O_RDONLY);
	uint8_t *m = xmmap(LEN, PROT_READ, MAP_SHARED, fd, 0);
	ok(close(fd));
	expect_pattern(m, 0, LEN, SEED, "exec child: its own mapping");
	stats_get(&b);
	stats_print("exec child", &b);
	expect_managed(&a, &b, 1, "exec child");
	expect_filled(&a, &b, NP, "exec child");
	ok(munmap(m, LEN));
	note("exec child: %d descriptors, none a userfaultfd or the data file; mapping right", n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--exec-child"))
		return exec_child(argv[2]);
	t_init(60);
	char *path = tpath("data"), real[PATH_MAX];
	make_file(path, LEN, SEED);
	check(realpath(path, real), "realpath: %s", strerror(errno));

	struct pageshim_stats a, b, c;
	stats_get(&a);
	int fd = xopen(path, O_RDONLY);
	S = xmmap(LEN, PROT_READ, MAP_SHARED, fd, 0);
	P = xmmap(LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ok(close(fd));
	for (int pg = 0; pg < 8; pg++)
		(void)*(volatile uint8_t *)(S + pg * PAGE), (void)*(volatile uint8_t *)(P + pg * PAGE);
	uint8_t parent[NP] = { 0 }, child[NP] = { 0 };
	for (int pg = 2; pg <= 3; pg++) {
		memset(P + pg * PAGE, 0x10 + pg, PAGE);
		parent[pg] = child[pg] = 0x10 + pg;
	}
	stats_get(&b);
	expect_managed(&a, &b, 2, "before fork");

	int down[2], up[2];
	pid_t pid = fork_piped(down, up);
	if (pid == 0) {
		expect_all(child, "child after fork");
		for (int pg = 3; pg <= 20; pg += 17) {  /* 3 written by the parent, 20 untouched */
			memset(P + pg * PAGE, 0x40 + pg, PAGE);
			child[pg] = 0x40 + pg;
		}
		expect_all(child, "child after its writes");
		put(up[1], '1');
		get(down[0], '2');
		expect_all(child, "child after the parent's writes");
		_exit(0);
	}
	get(up[0], '1');
	expect_all(parent, "parent after the child's writes");
	for (int pg = 5; pg <= 21; pg += 16) {          /* 5 touched before fork, 21 not */
		memset(P + pg * PAGE, 0x80 + pg, PAGE);
		parent[pg] = 0x80 + pg;
	}
	put(down[1], '2');
	wait_child(pid, "forked child");
	expect_all(parent, "parent after the child exited");

	pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "--exec-child", real, (char *)NULL);
		note("exec /proc/self/exe: %s", strerror(errno));
		_exit(1);
	}
	wait_child(pid, "exec child");
	expect_all(parent, "parent after the exec child");

	/* Children scanning a larger mapping in order: the read-ahead that runs
	 * in the background must work in a child too. */
	char *big = tpath("big");
	make_file(big, 16 * MiB, SEED + 1);
	int bfd = xopen(big, O_RDONLY);
	uint8_t *B = xmmap(16 * MiB, PROT_READ, MAP_SHARED, bfd, 0);
	ok(close(bfd));
	(void)*(volatile uint8_t *)B;
	for (int round = 0; round < 2; round++) {
		pid = fork();
		check(pid >= 0, "fork: %s", strerror(errno));
		if (pid == 0) {
			expect_pattern(B, 0, 16 * MiB, SEED + 1, "child: a sequential scan of 16 MiB");
			_exit(0);
		}
		wait_child(pid, "scanning child");
	}
	ok(munmap(B, 16 * MiB));

	ok(munmap(S, LEN));
	ok(munmap(P, LEN));
	stats_get(&c);
	stats_print("end", &c);
	expect_released(&a, &c, "after munmap");
	note("fork: every page right on both sides, private writes separate; exec: clean");
	return 0;
}
