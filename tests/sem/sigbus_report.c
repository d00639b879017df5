/* sigbus_report - PAGESHIM_SIGBUS_REPORT=all: a SIGBUS from a file mapping
 * pageshim left to the kernel gets the same report as its own, and then
 * reaches the program exactly as without the library.
 *
 * A 2-page file on tmpfs (which pageshim leaves to the kernel), mapped
 * MAP_SHARED whole, then truncated to one page. Each case runs this program
 * again with stderr to a file and touches byte 8 of page 1:
 *   handler  the program's SA_SIGINFO handler runs in the touching thread
 *            with BUS_ADRERR and si_addr the byte, and leaves with
 *            siglongjmp; sigaction shows the program its own handler; a
 *            second handler with SA_RESETHAND runs once, then SIG_DFL shows;
 *   die      no handler: the process dies of SIGBUS.
 * Under pageshim stderr holds one report per SIGBUS naming the reason, the
 * file, file offset 4104, the kernel's mapping and a stack through this
 * program's touch_past_eof; under the kernel it holds nothing.
 *   managed  the same with a file pageshim manages, mapped writable and
 *            written: one report (pageshim's own, which once came twice:
 *            its fatal-signal handler let the access fault again), death
 *            by SIGBUS, and the written byte in the file. */
// pageshim-env: PAGESHIM_SIGBUS_REPORT=all
#include "helpers.h"

#define SEED 5

/* The file mapped whole, then cut to one page; a managed one is written. */
static uint8_t *map_truncated(const char *path, int managed)
{
	int fd = xopen(path, O_RDWR);
	uint8_t *m = xmmap(2 * PAGE, PROT_READ | (managed ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	expect_pattern(m, 0, 2 * PAGE, SEED, path);
	ok(ftruncate(fd, PAGE));
	ok(close(fd));
	if (managed)
		m[0] = 'W';
	return m;
}

static volatile sig_atomic_t resethand_runs;
static sigjmp_buf resethand_jmp;

static void resethand_handler(int sig)
{
	(void)sig;
	resethand_runs++;
	siglongjmp(resethand_jmp, 1);
}

__attribute__((noinline)) static uint8_t touch_past_eof(volatile uint8_t *p)
{
	return *p;
}

static int run_case(const char *name, const char *path)
{
	uint8_t *m = map_truncated(path, !strcmp(name, "managed"));
	if (!strcmp(name, "die") || !strcmp(name, "managed")) {
		signal(SIGBUS, SIG_DFL);        /* t_init's probe would catch it */
		touch_past_eof(m + PAGE + 8);
		return 1;       /* not reached: SIGBUS */
	}
	expect_signal(m + PAGE + 8, 0, SIGBUS, BUS_ADRERR, "handler: a page past EOF");
	struct sigaction sa, shown;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = resethand_handler;
	sa.sa_flags = SA_RESETHAND;
	ok(sigaction(SIGBUS, &sa, NULL));
	ok(sigaction(SIGBUS, NULL, &shown));
	check(shown.sa_handler == resethand_handler && (shown.sa_flags & SA_RESETHAND),
	      "sigaction shows handler %p flags %#x, expected the program's own", (void *)shown.sa_handler,
	      (unsigned)shown.sa_flags);
	if (!sigsetjmp(resethand_jmp, 1))
		touch_past_eof(m + PAGE + 8);
	check(resethand_runs == 1, "SA_RESETHAND handler: ran %d times, expected once", (int)resethand_runs);
	ok(sigaction(SIGBUS, NULL, &shown));
	check(shown.sa_handler == SIG_DFL, "after SA_RESETHAND: expected SIG_DFL shown, got %p",
	      (void *)shown.sa_handler);
	return 0;
}

int main(int argc, char **argv)
{
	t_init(60);
	if (argc == 3)
		return run_case(argv[1], argv[2]);
	struct statfs fs;
	if (statfs("/dev/shm", &fs) || fs.f_type != TMPFS_MAGIC)
		skip("/dev/shm is not tmpfs: no file mapping pageshim surely leaves to the kernel");
	char *shm = NULL, *managed = tpath("data");
	check(asprintf(&shm, "/dev/shm/pageshim-sigbus-report.%d", (int)getpid()) > 0, "asprintf");
	static const struct { const char *name; int reports, managed; } cases[] = {
		{ "handler", 2, 0 }, { "die", 1, 0 }, { "managed", 1, 1 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *path = cases[i].managed ? managed : shm;
		make_file(path, 2 * PAGE, SEED);
		char *err = tpath("%s.err", cases[i].name);
		fflush(stdout);
		pid_t pid = fork();
		check(pid >= 0, "fork: %s", strerror(errno));
		if (pid == 0) {
			int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			check(fd >= 0 && dup2(fd, 2) == 2, "stderr to %s: %s", err, strerror(errno));
			execl("/proc/self/exe", argv[0], cases[i].name, path, (char *)NULL);
			_exit(127);
		}
		int status;
		check(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
		if (!cases[i].managed)
			unlink(path);   /* before any check can end the test */
		if (strcmp(cases[i].name, "handler"))
			check(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
			      "die: expected death by SIGBUS, got status %#x", status);
		else
			check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: failed (status %#x)",
			      cases[i].name, status);
		char *text = read_text(err);
		int n = 0;
		for (const char *t = text; (t = strstr(t, "SIGBUS: ")); t++)
			n++;
		if (!T.shim) {
			check(n == 0, "%s: under the kernel, expected no report, got: %s", cases[i].name, text);
		} else {
			check(n == cases[i].reports, "%s: expected %d report(s), got %d: %s", cases[i].name,
			      cases[i].reports, n, text);
			check(strstr(text, "access beyond the end of the file") && strstr(text, path) &&
			      strstr(text, "at file offset 4") && strstr(text, "stack: ") &&
			      strstr(text, "touch_past_eof") &&
			      (strstr(text, "left to the kernel's mmap") == NULL) == cases[i].managed,
			      "%s: expected the reason, %s, the offset, whose mapping it is and a stack "
			      "through touch_past_eof: %s", cases[i].name, path, text);
		}
		free(text);
		if (cases[i].managed) {
			int fd = xopen(path, O_RDONLY);
			uint8_t b = 0;
			check(pread(fd, &b, 1, 0) == 1 && b == 'W', "managed: the byte written before "
			      "SIGBUS is not in the file (%#x)", b);
			ok(close(fd));
		}
	}
	note("SIGBUS of a kernel mapping: reported under PAGESHIM_SIGBUS_REPORT=all, then handled or fatal as without it");
	return 0;
}
