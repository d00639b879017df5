/* ab.c - `pageshim ab`: run a command under the kernel's mmap (A) and under
 * pageshim (B), alternately (A B A B ...), each run in a fresh memory
 * cgroup with the same limit and a cold page cache, and print the medians
 * side by side with B/A.
 *
 * B is `pageshim run --cache (memory - reserve) --stats FILE -- CMD`, exec'd
 * in place, so both sides' rusage is CMD's own. The kernel's counters
 * (kstat.h) are machine-wide deltas around each run. */
#include "cgroup.h"
#include "cli.h"
#include "kstat.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1ULL << 20)
#define MAX_MEMORY (1ULL << 44)
#define MAX_RUNS 1000
#define STDERR_TAIL 12          /* lines of a failed run's stderr shown */
#define SIDES 2

enum { OPT_MEMORY = 256, OPT_RESERVE, OPT_RUNS, OPT_NO_DROP, OPT_JSON, OPT_OUT };

static const struct option opts[] = {
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "reserve", required_argument, NULL, OPT_RESERVE },
	{ "runs", required_argument, NULL, OPT_RUNS },
	{ "no-drop", no_argument, NULL, OPT_NO_DROP },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* What is measured per run: key, label, unit, decimals. Every run fills
 * what it can; a median is taken over the runs that have the value. */
#define AB_METRICS(X)                                                                 \
	X(wall_s, "wall time", "s", 2)                                                \
	X(ops_per_s, "ops/s (CMD's \"ops/s:\" line)", "", 0)                          \
	X(cpu_s, "CPU user+sys", "s", 2)                                              \
	X(peak_rss_mib, "peak RSS", "MiB", 1)                                         \
	X(cgroup_peak_mib, "cgroup peak", "MiB", 1)                                   \
	X(major_faults, "major faults", "", 0)                                        \
	X(minor_faults, "minor faults", "", 0)                                        \
	X(scan_global, "kswapd+direct scanned", "pages", 0)                           \
	X(scan_all, "all reclaim scanned", "pages", 0)                                \
	X(scan_cgroup, "cgroup pgscan", "pages", 0)                                   \
	X(tlb_ipis, "TLB shootdown IPIs", "", 0)                                      \
	X(device_read_mib, "read from devices", "MiB", 1)                             \
	X(fault_p50_us, "pageshim fault p50", "us", 0)                                \
	X(fault_p99_us, "pageshim fault p99", "us", 0)

enum {
#define AB_ENUM_(key, label, unit, dec) M_##key,
	AB_METRICS(AB_ENUM_)
#undef AB_ENUM_
	NMETRICS
};

static const struct metric {
	const char *key, *label, *unit;
	int decimals;
} metrics[NMETRICS] = {
#define AB_ROW_(key, label, unit, dec) { #key, label, unit, dec },
	AB_METRICS(AB_ROW_)
#undef AB_ROW_
};

struct sample {
	double v[NMETRICS];
	unsigned char have[NMETRICS];
	int status;             /* exit status, or 128 + signal */
};

struct ab {
	uint64_t memory, reserve;
	unsigned runs;
	int drop, json;
	const char *out;        /* --out, or NULL: a temporary directory */
	char dir[PATH_MAX - 64]; /* where the runs' files go (room left for "/B12.stats.json") */
	char self[PATH_MAX];    /* this executable, for side B */
	char **cmd;
	struct cgroup cg;
	struct sample *s[SIDES];        /* runs samples per side */
};

static const char *const side_name[SIDES] = { "kernel mmap", "pageshim" };

static void ab_help(FILE *f)
{
	fprintf(f, "usage: %s\n", ab_cmd.synopsis);
	fputs("  --memory SIZE   memory cgroup limit of every run (default 512M)\n"
	      "  --reserve SIZE  what B's process needs beside pageshim's cache (binary,\n"
	      "                  stacks, the shim's tables); B runs with --cache\n"
	      "                  (memory - reserve) (default 32M)\n"
	      "  --runs N        runs per side, 1 to 1000, alternating A B A B ... (default 3)\n"
	      "  --no-drop       keep the page cache (default: sync and drop it before each run)\n"
	      "  --out DIR       keep each run's stdout, stderr and (B) pageshim stats in DIR\n"
	      "                  as A1.out, A1.err, B1.out, B1.err, B1.stats.json, ...\n"
	      "  --json          one JSON object (medians, ratios, every run) instead of the table\n"
	      "  --help          this text\n"
	      "A runs CMD as it is (the kernel's mmap); B runs `pageshim run --cache ... --stats\n"
	      "FILE -- CMD`. Each run gets a fresh memory cgroup (v1 or v2) limited to SIZE,\n"
	      "swap included, removed after. The table holds medians over the runs and B/A:\n"
	      "wall time, CMD's last \"ops/s: N\" line, CPU, peak RSS (wait4), cgroup peak,\n"
	      "faults, reclaim scans (/proc/vmstat pgscan_kswapd+pgscan_direct, which leave a\n"
	      "cgroup's own reclaim out; pgscan_anon+pgscan_file, which count it; the cgroup's\n"
	      "memory.stat when it has them), TLB shootdown IPIs (/proc/interrupts), bytes read\n"
	      "from devices (/proc/vmstat pgpgin) and, for B, pageshim's fault latency. The\n"
	      "kernel counters are machine-wide. Needs root (cgroups, drop_caches).\n"
	      "Exit status: the worst of CMD's; 2 for a usage error or without root; 127 when\n"
	      "CMD is not found. A failed run stops the rest and shows its stderr's end.\n", f);
}

/* Is cmd an executable file, directly or through PATH? */
static int command_exists(const char *cmd)
{
	if (strchr(cmd, '/'))
		return access(cmd, X_OK) == 0;
	const char *path = getenv("PATH");
	char file[PATH_MAX];
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		snprintf(file, sizeof file, "%.*s/%s", (int)n, n ? p : ".", cmd);
		struct stat st;
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0)
			return 1;
		p += n + (p[n] == ':');
	}
	return 0;
}

static void parse_flags(struct ab *a, int argc, char **argv)
{
	const struct cli_cmd *me = &ab_cmd;
	int ch;
	optind = 1;
	while ((ch = cli_getopt(me, argc, argv, opts)) != -1) {
		switch (ch) {
		case OPT_MEMORY: a->memory = cli_size(me, "memory", optarg, 16 * MIB, MAX_MEMORY); break;
		case OPT_RESERVE: a->reserve = cli_size(me, "reserve", optarg, 0, MAX_MEMORY); break;
		case OPT_RUNS: a->runs = cli_uint(me, "runs", optarg, 1, MAX_RUNS); break;
		case OPT_NO_DROP: a->drop = 0; break;
		case OPT_JSON: a->json = 1; break;
		case OPT_OUT: a->out = optarg; break;
		}
	}
	if (optind >= argc)
		cli_usage_error(me, "no command to run (pageshim ab [FLAGS] -- CMD [ARGS])");
	a->cmd = argv + optind;
	if (a->reserve + MIB > a->memory)
		cli_usage_error(me, "--reserve must leave at least 1M of --memory for pageshim's cache");
}

/* Everything that must hold before the first run; each refusal says why. */
static void preflight(struct ab *a)
{
	char why[PATH_MAX + 256];
	if (geteuid() != 0)
		cli_die(&ab_cmd, EXIT_USAGE, "needs root: it makes a memory cgroup per run (mkdir under "
			"/sys/fs/cgroup, writes its limit and cgroup.procs) and drops the page cache "
			"(/proc/sys/vm/drop_caches); run it as root, e.g. sudo pageshim ab ...");
	if (!command_exists(a->cmd[0]))
		cli_die(&ab_cmd, EXIT_NOT_FOUND, "%s: command not found", a->cmd[0]);
	if (cg_find(&a->cg, why, sizeof why))
		cli_die(&ab_cmd, EXIT_RUN_FAILED, "%s", why);
	ssize_t n = readlink("/proc/self/exe", a->self, sizeof a->self - 1);
	if (n < 0)
		cli_die(&ab_cmd, EXIT_RUN_FAILED, "readlink /proc/self/exe: %s", strerror(errno));
	a->self[n] = 0;
	if (a->out) {
		if (mkdir(a->out, 0755) && errno != EEXIST)
			cli_die(&ab_cmd, EXIT_RUN_FAILED, "--out %s: %s", a->out, strerror(errno));
		if (snprintf(a->dir, sizeof a->dir, "%s", a->out) >= (int)sizeof a->dir)
			cli_die(&ab_cmd, EXIT_USAGE, "--out %s: path too long", a->out);
	} else {
		snprintf(a->dir, sizeof a->dir, "%s/pageshim-ab.XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(a->dir))
			cli_die(&ab_cmd, EXIT_RUN_FAILED, "mkdtemp %s: %s", a->dir, strerror(errno));
	}
}

/* The path of run `tag`'s file with extension ext, e.g. DIR/B2.err. */
static void run_file(const struct ab *a, const char *tag, const char *ext, char *out, size_t len)
{
	snprintf(out, len, "%s/%s.%s", a->dir, tag, ext);
}

static void drop_page_cache(void)
{
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "3", 1) != 1)
		fprintf(stderr, "pageshim ab: could not drop the page cache: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* In the child: join the cgroup, redirect, exec side `side`. Never returns. */
static _Noreturn void child(const struct ab *a, int side, const char *tag)
{
	char out[PATH_MAX], err[PATH_MAX], stats[PATH_MAX], cache[32];
	run_file(a, tag, "out", out, sizeof out);
	run_file(a, tag, "err", err, sizeof err);
	run_file(a, tag, "stats.json", stats, sizeof stats);
	int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
		_exit(EXIT_RUN_FAILED);
	int rc = cg_enter(&a->cg, 0);
	if (rc) {
		fprintf(stderr, "pageshim ab: cannot enter %s: %s\n", a->cg.path, strerror(-rc));
		_exit(EXIT_RUN_FAILED);
	}
	if (side == 0) {
		execvp(a->cmd[0], a->cmd);
	} else {
		size_t n = 0;
		while (a->cmd[n])
			n++;
		char **argv = calloc(n + 8, sizeof *argv);
		if (!argv)
			_exit(EXIT_RUN_FAILED);
		snprintf(cache, sizeof cache, "%llu", (unsigned long long)(a->memory - a->reserve));
		char *head[] = { "pageshim", "run", "--cache", cache, "--stats", stats, "--" };
		memcpy(argv, head, sizeof head);
		memcpy(argv + 7, a->cmd, n * sizeof *argv);
		execv(a->self, argv);
	}
	fprintf(stderr, "pageshim ab: exec %s: %s\n", side ? a->self : a->cmd[0], strerror(errno));
	_exit(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE);
}

static void set(struct sample *s, int m, double v)
{
	s->v[m] = v;
	s->have[m] = 1;
}

/* The number after the last line "ops/s: " of file path, into s. */
static void read_ops(const char *path, struct sample *s)
{
	FILE *f = fopen(path, "re");
	char line[512];
	double v;
	if (!f)
		return;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "ops/s: %lf", &v) == 1)
			set(s, M_ops_per_s, v);
	fclose(f);
}

/* fault_latency_us p50 and p99 from the library's stats file. */
static void read_fault_latency(const char *path, struct sample *s)
{
	FILE *f = fopen(path, "re");
	char buf[8192];
	if (!f)
		return;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *lat = strstr(buf, "\"fault_latency_us\"");
	const char *p50 = lat ? strstr(lat, "\"p50\":") : NULL;
	const char *p99 = lat ? strstr(lat, "\"p99\":") : NULL;
	if (p50)
		set(s, M_fault_p50_us, strtod(p50 + 6, NULL));
	if (p99)
		set(s, M_fault_p99_us, strtod(p99 + 6, NULL));
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Show the last STDERR_TAIL lines of file path on stderr. */
static void show_tail(const char *path)
{
	FILE *f = fopen(path, "re");
	char lines[STDERR_TAIL][512];
	unsigned n = 0;
	if (!f)
		return;
	while (fgets(lines[n % STDERR_TAIL], sizeof lines[0], f))
		n++;
	fclose(f);
	for (unsigned i = n > STDERR_TAIL ? n - STDERR_TAIL : 0; i < n; i++)
		fprintf(stderr, "    %s%s", lines[i % STDERR_TAIL],
			strchr(lines[i % STDERR_TAIL], '\n') ? "" : "\n");
}

/* One run of side `side` (0 A, 1 B), the k-th (1-based): fills *s.
 * Returns 0, or -1 when CMD failed (its stderr's end shown). */
static int run_one(struct ab *a, int side, unsigned k, struct sample *s)
{
	char tag[16], name[64], path[PATH_MAX];
	struct kstat k0, k1;
	struct rusage ru;
	int st, rc;
	memset(s, 0, sizeof *s);
	snprintf(tag, sizeof tag, "%c%u", 'A' + side, k);
	snprintf(name, sizeof name, "pageshim-ab-%d-%s", (int)getpid(), tag);
	if (a->drop)
		drop_page_cache();
	if ((rc = cg_create(&a->cg, name, a->memory)))
		cli_die(&ab_cmd, EXIT_RUN_FAILED, "cannot make the cgroup %s/%s: %s", a->cg.parent,
			name, strerror(-rc));
	if ((rc = kstat_take(&k0)))
		cli_die(&ab_cmd, EXIT_RUN_FAILED, "/proc/vmstat: %s", strerror(-rc));
	fprintf(stderr, "pageshim ab: run %s (%s)...", tag, side_name[side]);
	double t0 = now_s();
	pid_t pid = fork();
	if (pid < 0)
		cli_die(&ab_cmd, EXIT_RUN_FAILED, "fork: %s", strerror(errno));
	if (pid == 0)
		child(a, side, tag);
	while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR)
		;
	set(s, M_wall_s, now_s() - t0);
	kstat_take(&k1);
	s->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	fprintf(stderr, " %.2f s, status %d\n", s->v[M_wall_s], s->status);

	uint64_t peak, scanned;
	if (cg_peak(&a->cg, &peak) == 0)
		set(s, M_cgroup_peak_mib, (double)peak / MIB);
	if (cg_scanned(&a->cg, &scanned) == 0)
		set(s, M_scan_cgroup, (double)scanned);
	if ((rc = cg_remove(&a->cg)))
		fprintf(stderr, "pageshim ab: could not remove %s: %s\n", a->cg.path, strerror(-rc));
	set(s, M_cpu_s, tv_s(ru.ru_utime) + tv_s(ru.ru_stime));
	set(s, M_peak_rss_mib, (double)ru.ru_maxrss / 1024);
	set(s, M_major_faults, (double)ru.ru_majflt);
	set(s, M_minor_faults, (double)ru.ru_minflt);
	set(s, M_scan_global, (double)(k1.scan_global - k0.scan_global));
	set(s, M_scan_all, (double)(k1.scan_all - k0.scan_all));
	set(s, M_tlb_ipis, (double)(k1.tlb_ipis - k0.tlb_ipis));
	set(s, M_device_read_mib, (double)(k1.pgpgin_kib - k0.pgpgin_kib) / 1024);
	run_file(a, tag, "out", path, sizeof path);
	read_ops(path, s);
	if (side == 1) {
		run_file(a, tag, "stats.json", path, sizeof path);
		read_fault_latency(path, s);
	}
	if (s->status == 0)
		return 0;
	fprintf(stderr, "pageshim ab: CMD failed under %s (run %s): %s %d%s; its stderr ends with:\n",
		side_name[side], tag, WIFEXITED(st) ? "exit status" : "signal",
		WIFEXITED(st) ? s->status : WTERMSIG(st),
		WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? " (out of memory in its cgroup?)" : "");
	run_file(a, tag, "err", path, sizeof path);
	show_tail(path);
	return -1;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

/* Side `side`'s medians over its n runs into r. */
static void medians(const struct ab *a, int side, unsigned n, struct report *r)
{
	double v[MAX_RUNS];
	r->n = 0;
	for (int m = 0; m < NMETRICS; m++) {
		unsigned have = 0;
		for (unsigned i = 0; i < n; i++)
			if (a->s[side][i].have[m])
				v[have++] = a->s[side][i].v[m];
		const struct metric *d = &metrics[m];
		if (!have) {
			report_none(r, d->key, d->label, d->unit);
			continue;
		}
		qsort(v, have, sizeof *v, cmp_double);
		double med = have % 2 ? v[have / 2] : (v[have / 2 - 1] + v[have / 2]) / 2;
		report_real(r, d->key, d->label, d->unit, med, d->decimals);
	}
}

/* One run as a report (for --json's per-run lists). */
static void one_run(const struct sample *s, struct report *r)
{
	r->n = 0;
	report_count(r, "status", "status", "", (uint64_t)s->status);
	for (int m = 0; m < NMETRICS; m++) {
		const struct metric *d = &metrics[m];
		if (s->have[m])
			report_real(r, d->key, d->label, d->unit, s->v[m], d->decimals);
		else
			report_none(r, d->key, d->label, d->unit);
	}
}

static void print_json(const struct ab *a, const struct report med[SIDES],
		       const struct report *ratio)
{
	static struct report r;         /* static: ~10 KiB */
	printf("{\"memory_bytes\":%llu,\"reserve_bytes\":%llu,\"cache_bytes\":%llu,\"runs\":%u,"
	       "\"cgroup\":\"v%d\",\"dropped\":%s,",
	       (unsigned long long)a->memory, (unsigned long long)a->reserve,
	       (unsigned long long)(a->memory - a->reserve), a->runs, a->cg.kind == CG_V1 ? 1 : 2,
	       a->drop ? "true" : "false");
	for (int side = 0; side < SIDES; side++) {
		printf("\"%c\":", 'A' + side);
		report_json(stdout, &med[side]);
		printf(",\"%c_runs\":[", 'A' + side);
		for (unsigned i = 0; i < a->runs; i++) {
			one_run(&a->s[side][i], &r);
			fputs(i ? "," : "", stdout);
			report_json(stdout, &r);
		}
		fputs("],", stdout);
	}
	fputs("\"ratio\":", stdout);
	report_json(stdout, ratio);
	fputs("}\n", stdout);
}

static void print_table(const struct ab *a, const struct report med[SIDES],
			const struct report *ratio)
{
	printf("\npageshim ab:");
	for (char **c = a->cmd; *c; c++)
		printf(" %s", *c);
	printf("\n%u run(s) per side, alternating A B; memory limit %llu MiB per run (cgroup v%d), "
	       "B's cache %llu MiB (%llu MiB reserve); page cache %s before each run\n"
	       "medians:\n\n", a->runs, (unsigned long long)(a->memory / MIB),
	       a->cg.kind == CG_V1 ? 1 : 2, (unsigned long long)((a->memory - a->reserve) / MIB),
	       (unsigned long long)(a->reserve / MIB), a->drop ? "dropped" : "kept");
	report_compare(stdout, "A kernel mmap", "B pageshim", &med[0], &med[1], ratio);
	putchar('\n');
}

/* Remove the temporary directory and what the runs left in it. */
static void remove_dir(const struct ab *a)
{
	static const char *const ext[] = { "out", "err", "stats.json" };
	char path[PATH_MAX], tag[16];
	for (unsigned k = 1; k <= a->runs; k++)
		for (int side = 0; side < SIDES; side++)
			for (size_t e = 0; e < sizeof ext / sizeof ext[0]; e++) {
				snprintf(tag, sizeof tag, "%c%u", 'A' + side, k);
				run_file(a, tag, ext[e], path, sizeof path);
				unlink(path);
			}
	rmdir(a->dir);
}

static int ab_main(int argc, char **argv)
{
	struct ab a = { .memory = 512 * MIB, .reserve = 32 * MIB, .runs = 3, .drop = 1 };
	static struct report med[SIDES], ratio;
	parse_flags(&a, argc, argv);
	preflight(&a);
	for (int side = 0; side < SIDES; side++)
		if (!(a.s[side] = calloc(a.runs, sizeof *a.s[side])))
			cli_die(&ab_cmd, EXIT_RUN_FAILED, "out of memory");
	int worst = 0;
	for (unsigned k = 1; k <= a.runs && !worst; k++)
		for (int side = 0; side < SIDES && !worst; side++)
			if (run_one(&a, side, k, &a.s[side][k - 1]))
				worst = a.s[side][k - 1].status;
	if (!a.out)
		remove_dir(&a);
	if (!worst) {
		for (int side = 0; side < SIDES; side++)
			medians(&a, side, a.runs, &med[side]);
		report_ratios(&ratio, &med[0], &med[1]);
		if (a.json)
			print_json(&a, med, &ratio);
		else
			print_table(&a, med, &ratio);
	}
	for (int side = 0; side < SIDES; side++)
		free(a.s[side]);
	return worst;
}

const struct cli_cmd ab_cmd = {
	.name = "ab",
	.synopsis = "pageshim ab [--memory SIZE] [--reserve SIZE] [--runs N] [--no-drop] [--out DIR] "
		    "[--json] -- CMD [ARGS]",
	.summary = "CMD under the kernel's mmap (A) and under pageshim (B), alternately, "
		   "in equal memory cgroups; medians side by side",
	.main = ab_main,
	.help = ab_help,
};
