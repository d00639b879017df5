/* eof_sigbus - a mapping longer than its file, as the kernel shows it.
 *
 * The file is 3 pages + 100 bytes, the mapping 6 pages. The last partial page
 * reads the file then zeros; a touch of a page wholly past EOF raises SIGBUS
 * with si_code BUS_ADRERR and si_addr the touched byte, delivered to the
 * thread that touched it (checked from the main thread and from another one:
 * the probe's handler fails if a thread that did not fault gets the signal),
 * and the program's handler runs and leaves with siglongjmp. For MAP_SHARED,
 * MAP_PRIVATE and MAP_PRIVATE|PROT_WRITE. Then, with no handler, a child
 * touching such a page dies of SIGBUS. */
#include <sys/resource.h>

#include "helpers.h"

#define FILE_SIZE (3 * PAGE + 100)
#define MAP_LEN (6 * PAGE)
#define SEED 3

int main(void)
{
	t_init(60);
	char *path = tpath("short");
	make_file(path, FILE_SIZE, SEED);
	struct pageshim_stats a, b, c;
	stats_get(&a);
	unsigned sigbus = 0;

	for (size_t k = 0; k < ARRAY_SIZE(managed_kinds); k++) {
		const char *what = managed_kinds[k].name;
		int fd = xopen(path, O_RDONLY);
		uint8_t *map = xmmap(MAP_LEN, managed_kinds[k].prot, managed_kinds[k].flags, fd, 0);

		expect_pattern(map, 0, FILE_SIZE, SEED, what);
		expect_zero(map + FILE_SIZE, 4 * PAGE - FILE_SIZE, what);
		expect_file(fd, map, 0, FILE_SIZE, what);

		/* Wholly past EOF, from this thread: read (and write when allowed). */
		expect_signal(map + 4 * PAGE + 123, 0, SIGBUS, BUS_ADRERR, what);
		sigbus++;
		if (managed_kinds[k].prot & PROT_WRITE) {
			expect_signal(map + 4 * PAGE + 7, 1, SIGBUS, BUS_ADRERR, what);
			sigbus++;
			/* Bytes past EOF inside the last page are writable memory. */
			map[FILE_SIZE + 5] = 0xee;
			check(map[FILE_SIZE + 5] == 0xee, "%s: write past EOF in the last page lost", what);
		}
		/* Again: the page stays past EOF (no zero page appeared). */
		expect_signal(map + 4 * PAGE, 0, SIGBUS, BUS_ADRERR, what);
		sigbus++;

		/* From another thread: the signal goes to that thread. */
		expect_signal_in_thread(map + 5 * PAGE + 4000, 0, SIGBUS, BUS_ADRERR, what);
		sigbus++;

		/* The pages inside the file are still right after the signals. */
		expect_pattern(map, 0, FILE_SIZE, SEED, what);
		ok(munmap(map, MAP_LEN));
		ok(close(fd));
	}
	stats_get(&b);
	stats_print("after", &b);
	expect_managed(&a, &b, ARRAY_SIZE(managed_kinds), "eof mappings");
	expect_filled(&a, &b, 4 * ARRAY_SIZE(managed_kinds), "eof mappings");
	if (T.shim)
		check(b.sigbus_raised - a.sigbus_raised >= sigbus,
		      "expected sigbus_raised to grow by >= %u, got %llu -> %llu", sigbus,
		      U(a.sigbus_raised), U(b.sigbus_raised));
	expect_released(&a, &b, "after munmap");

	/* No handler: the default action kills the process. */
	pid_t pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(20);
		DOING("child without a handler reading past EOF");
		setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
		signal(SIGBUS, SIG_DFL);
		int fd = xopen(path, O_RDONLY);
		volatile uint8_t *map = xmmap(MAP_LEN, PROT_READ, MAP_SHARED, fd, 0);
		(void)map[4 * PAGE];
		note("child: read past EOF returned");
		_exit(3);
	}
	int status;
	check(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	check(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
	      "child reading past EOF without a handler: expected death by SIGBUS, got status %#x", status);
	stats_get(&c);
	expect_released(&a, &c, "end");
	note("%u SIGBUS caught at the right address; a child without a handler died of SIGBUS", sigbus);
	return 0;
}
