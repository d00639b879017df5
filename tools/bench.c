/* bench.c - `pageshim bench`: read (and write) a file through mmap or
 * pread from N threads for S seconds, verify every word read, report
 * throughput, latency, memory and faults.
 *
 * Run it bare for the kernel's numbers and under `pageshim run` for the
 * shim's; the workload is the same. This file reads the flags, prepares
 * the file, opens it and hands over to bench_worker.c and bench_report.c. */
#include "bench.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const bench_pattern_names[] = { "random", "seq", "zipf:THETA", "scan+hot", NULL };
const char *const bench_io_names[] = { "mmap", "pread", "pread-direct", NULL };
const char *const bench_advice_names[] = { "normal", "random", "sequential", NULL };

#define PAGE 4096u                      /* sizes and O_DIRECT offsets align to this */
#define MAX_FILE (1ULL << 44)           /* 16 TiB: past any test disk */
#define MAX_ACCESS (64ULL << 20)
#define MAX_THREADS 1024
#define MAX_DEPTH 1024                  /* past an NVMe queue's 1023 slots; io_uring's max 32768 */
#define MAX_SECONDS 86400.0

enum { OPT_FILE = 256, OPT_SIZE, OPT_PATTERN, OPT_THREADS, OPT_SECONDS, OPT_ACCESS,
       OPT_ADVICE, OPT_IO, OPT_SEED, OPT_JSON, OPT_HOT, OPT_READ_RATIO, OPT_SERIES, OPT_DEPTH };

static const struct option opts[] = {
	{ "file", required_argument, NULL, OPT_FILE },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "pattern", required_argument, NULL, OPT_PATTERN },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "depth", required_argument, NULL, OPT_DEPTH },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "access", required_argument, NULL, OPT_ACCESS },
	{ "advice", required_argument, NULL, OPT_ADVICE },
	{ "io", required_argument, NULL, OPT_IO },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "hot", required_argument, NULL, OPT_HOT },
	{ "read-ratio", required_argument, NULL, OPT_READ_RATIO },
	{ "series", required_argument, NULL, OPT_SERIES },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static void bench_help(FILE *f)
{
	fprintf(f, "usage: %s\n", bench_cmd.synopsis);
	fputs("  --file PATH       the data file (required); created when missing or of\n"
	      "                    another size, else reused\n"
	      "  --size SIZE       its size, a multiple of 4K (required to create it)\n"
	      "  --pattern P       random (uniform over the file, default); seq (each\n"
	      "                    thread walks its own stripe, wrapping); zipf:THETA\n"
	      "                    (Zipf-skewed, 0 < THETA < 1, e.g. zipf:0.99; the popular\n"
	      "                    blocks are scattered over the file); scan+hot (thread 0\n"
	      "                    scans the whole file while the others read uniformly\n"
	      "                    within the hot set; needs 2 threads or more)\n"
	      "  --hot SIZE        scan+hot: the hot set, the file's first SIZE bytes\n"
	      "                    (default a quarter of the file)\n"
	      "  --threads N       reader threads, 1 to 1024 (default 1)\n"
	      "  --depth N         pread-direct: accesses in flight per thread, 1 to 1024, each\n"
	      "                    thread with its own io_uring above 1 (default 1: pread)\n"
	      "  --seconds S       how long to read (default 10); 0 only prepares the file\n"
	      "  --access BYTES    bytes per read, a multiple of 8 (4K for pread-direct),\n"
	      "                    at offsets that are multiples of it (default 4K)\n"
	      "  --advice A        normal (default), random or sequential: madvise for mmap,\n"
	      "                    posix_fadvise for pread\n"
	      "  --io IO           mmap (MAP_SHARED, PROT_READ, default), pread, or\n"
	      "                    pread-direct (O_DIRECT, page-aligned buffer)\n"
	      "  --seed N          seed of the random positions (default 1)\n"
	      "  --read-ratio R    share of reads among accesses, 0 to 1 (default 1); the\n"
	      "                    others write the block's own pattern back (through the\n"
	      "                    mapping, now writable, or with pwrite), then the file is\n"
	      "                    synced (msync MS_SYNC or fdatasync) after the timed phase\n"
	      "  --series FILE     also write ops per second as CSV \"second,ops\"\n"
	      "  --json            one JSON object on one line instead of the table\n"
	      "  --help            this text\n"
	      "Word at offset o holds a 64-bit mix of o, and every read is checked: a wrong\n"
	      "word prints its offset, expected and got, and exits 1. The report gives ops/s,\n"
	      "MB/s, ops in each full second, latency p50/p99/p99.9/max (us, per access incl.\n"
	      "a read's check; with --depth above 1, from submission to completion), with\n"
	      "writes their count and the final sync's seconds, for scan+hot the hot\n"
	      "readers' ops/s, latency and hit ratio (the share of their accesses, writes\n"
	      "too, done within 20 us, so in memory) and the scanner's ops/s, peak RSS of\n"
	      "the process, major/minor faults and user/system CPU of the timed phase, the\n"
	      "library's stats when run under `pageshim run`, and last, always, `ops/s: N`.\n"
	      "Create the file in a separate run (--seconds 0) to keep its buffer out of\n"
	      "the peak RSS.\n", f);
}

/* --pattern: a name, or zipf:THETA with 0 < THETA < 1 (theta = 1 would
 * divide by zero in the generator; above 1 it is another formula). */
static void parse_pattern(struct bench_cfg *c, const char *v)
{
	c->pattern_text = v;
	if (strncmp(v, "zipf:", 5)) {
		c->pattern = cli_choice(&bench_cmd, "pattern", v, bench_pattern_names);
		if (c->pattern != PAT_ZIPF)
			return;
	}
	char *end;
	errno = 0;
	c->pattern = PAT_ZIPF;
	c->theta = strtod(v + 5, &end);
	if (errno || end == v + 5 || *end || !(c->theta > 0 && c->theta < 1))
		cli_bad_value(&bench_cmd, "pattern", v, "zipf:THETA with 0 < THETA < 1, e.g. zipf:0.99");
}

/* --read-ratio: a number in [0, 1]. */
static double parse_read_ratio(const char *v)
{
	char *end;
	errno = 0;
	double r = strtod(v, &end);
	if (errno || end == v || *end || !(r >= 0 && r <= 1))
		cli_bad_value(&bench_cmd, "read-ratio", v, "a number from 0 (only writes) to 1 "
			      "(only reads, the default), e.g. 0.7");
	return r;
}

/* Read the flags into *c; exits EXIT_USAGE on anything malformed. */
static void parse_flags(struct bench_cfg *c, int argc, char **argv)
{
	const struct cli_cmd *me = &bench_cmd;
	int ch;
	optind = 1;
	while ((ch = cli_getopt(me, argc, argv, opts)) != -1) {
		switch (ch) {
		case OPT_FILE: c->path = optarg; break;
		case OPT_SIZE: c->size = cli_size(me, "size", optarg, PAGE, MAX_FILE); break;
		case OPT_PATTERN: parse_pattern(c, optarg); break;
		case OPT_THREADS: c->threads = cli_uint(me, "threads", optarg, 1, MAX_THREADS); break;
		case OPT_DEPTH: c->depth = cli_uint(me, "depth", optarg, 1, MAX_DEPTH); break;
		case OPT_SECONDS: c->seconds = cli_seconds(me, "seconds", optarg, MAX_SECONDS); break;
		case OPT_ACCESS: c->access = cli_size(me, "access", optarg, 8, MAX_ACCESS); break;
		case OPT_ADVICE: c->advice = cli_choice(me, "advice", optarg, bench_advice_names); break;
		case OPT_IO: c->io = cli_choice(me, "io", optarg, bench_io_names); break;
		case OPT_SEED: c->seed = cli_uint(me, "seed", optarg, 0, UINT64_MAX); break;
		case OPT_JSON: c->json = 1; break;
		case OPT_HOT: c->hot = cli_size(me, "hot", optarg, 8, MAX_FILE); break;
		case OPT_READ_RATIO: c->read_ratio = parse_read_ratio(optarg); break;
		case OPT_SERIES: c->series_path = optarg; break;
		}
	}
	if (optind < argc)
		cli_usage_error(me, "unexpected argument \"%s\"", argv[optind]);
	if (!c->path)
		cli_usage_error(me, "--file is required");
}

/* The rules between flags, once all are read. */
static void check_flags(const struct bench_cfg *c)
{
	char v[32];
	if (c->size % PAGE) {
		snprintf(v, sizeof v, "%llu", (unsigned long long)c->size);
		cli_bad_value(&bench_cmd, "size", v, "a multiple of 4096 bytes");
	}
	unsigned align = c->io == IO_DIRECT ? PAGE : 8;
	if (c->access % align) {
		snprintf(v, sizeof v, "%zu", c->access);
		cli_bad_value(&bench_cmd, "access", v, "a multiple of %u bytes%s", align,
			      c->io == IO_DIRECT ? " with --io pread-direct" : "");
	}
	if (c->pattern == PAT_SCAN_HOT && c->threads < 2)
		cli_usage_error(&bench_cmd, "--pattern scan+hot needs --threads 2 or more "
				"(one scanner, the others on the hot set)");
	if (c->depth > 1 && c->io != IO_DIRECT)
		cli_usage_error(&bench_cmd, "--depth %u needs --io pread-direct (the reads in flight "
				"go through io_uring; --io %s reads one at a time)", c->depth,
				bench_io_names[c->io]);
}

/* Make sure the file holds the pattern at the wanted size; its size. */
static uint64_t prepare_file(const struct bench_cfg *c)
{
	struct stat st;
	int exists = stat(c->path, &st) == 0;
	if (!exists && errno != ENOENT)
		cli_die(&bench_cmd, EXIT_RUN_FAILED, "%s: %s", c->path, strerror(errno));
	if (exists && !S_ISREG(st.st_mode))
		cli_die(&bench_cmd, EXIT_USAGE, "%s is not a regular file", c->path);
	if (exists && (!c->size || (uint64_t)st.st_size == c->size))
		return (uint64_t)st.st_size;
	if (!c->size)
		cli_usage_error(&bench_cmd, "%s does not exist: --size is needed to create it",
				c->path);
	fprintf(stderr, "pageshim bench: writing %s (%llu MiB)\n", c->path,
		(unsigned long long)(c->size >> 20));
	int rc = data_create(c->path, c->size);
	if (rc)
		cli_die(&bench_cmd, EXIT_RUN_FAILED, "cannot write %s: %s", c->path, strerror(-rc));
	return c->size;
}

/* Open (and for mmap, map) the file with the wanted advice. */
static void open_target(struct bench_target *t)
{
	static const int madv[] = { MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL };
	static const int fadv[] = { POSIX_FADV_NORMAL, POSIX_FADV_RANDOM, POSIX_FADV_SEQUENTIAL };
	const struct bench_cfg *c = t->cfg;
	t->slots = t->size / c->access;
	if (t->slots == 0 || (c->pattern == PAT_SEQ && t->slots < c->threads))
		cli_usage_error(&bench_cmd, "%s holds %llu blocks of --access %zu bytes: too few "
				"for %u thread(s)", c->path, (unsigned long long)t->slots,
				c->access, c->threads);
	t->hot_slots = (c->hot ? c->hot : t->size / 4) / c->access;
	if (c->pattern == PAT_SCAN_HOT && (t->hot_slots == 0 || t->hot_slots > t->slots))
		cli_usage_error(&bench_cmd, "--hot %llu: the hot set must hold at least one "
				"--access block and fit in the %llu-byte file",
				(unsigned long long)(c->hot ? c->hot : t->size / 4),
				(unsigned long long)t->size);
	int writes = c->read_ratio < 1;
	t->fd = open(c->path, (writes ? O_RDWR : O_RDONLY) | O_CLOEXEC |
		      (c->io == IO_DIRECT ? O_DIRECT : 0));
	if (t->fd < 0)
		cli_die(&bench_cmd, EXIT_RUN_FAILED, "open %s%s: %s", c->path,
			c->io == IO_DIRECT ? " with O_DIRECT" : "", strerror(errno));
	int rc = 0;
	if (c->io == IO_MMAP) {
		t->map = mmap(NULL, t->size, PROT_READ | (writes ? PROT_WRITE : 0), MAP_SHARED,
			      t->fd, 0);
		if (t->map == MAP_FAILED)
			cli_die(&bench_cmd, EXIT_RUN_FAILED, "mmap %s: %s", c->path, strerror(errno));
		rc = madvise((void *)t->map, t->size, madv[c->advice]) ? errno : 0;
	} else {
		rc = posix_fadvise(t->fd, 0, 0, fadv[c->advice]);
	}
	if (rc)
		cli_die(&bench_cmd, EXIT_RUN_FAILED, "advice %s on %s: %s",
			bench_advice_names[c->advice], c->path, strerror(rc));
}

/* With writes: write back what is still dirty, as a program that wants its
 * writes durable would, and time it (r->sync_seconds). */
static void sync_writes(const struct bench_target *t, struct bench_result *r)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = t->map ? msync(t->map, t->size, MS_SYNC) : fdatasync(t->fd);
	if (rc)
		cli_die(&bench_cmd, EXIT_RUN_FAILED, "%s %s after the writes: %s",
			t->map ? "msync" : "fdatasync", t->cfg->path, strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->sync_seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/* Say why the workers could not start (rc: -errno) and, for io_uring, the
 * usual cause. There is no fallback to pread: it would measure one read in
 * flight under a report saying --depth N. */
static _Noreturn void report_start(const struct bench_cfg *c, const char *step, int rc)
{
	const char *name = strerrorname_np(-rc), *hint = "";
	char what[64];
	snprintf(what, sizeof what, "%s", step ? step : "?");
	if (step && !strcmp(step, "io_uring_queue_init")) {
		snprintf(what, sizeof what, "io_uring_queue_init of depth %u", c->depth);
		if (rc == -EPERM)
			hint = "; is io_uring disabled (sysctl kernel.io_uring_disabled)?";
		else if (rc == -ENOSYS)
			hint = "; this kernel has no io_uring: use --depth 1";
		else if (rc == -ENOMEM)
			hint = "; before Linux 5.12 the ring counts against ulimit -l";
	}
	cli_die(&bench_cmd, EXIT_RUN_FAILED, "cannot start the threads: %s: %s (%s)%s", what,
		strerror(-rc), name ? name : "unknown errno", hint);
}

/* Say what went wrong in the first failed access. */
static _Noreturn void report_fault(const struct bench_target *t, const struct bench_fault *f)
{
	if (f->err)
		cli_die(&bench_cmd, EXIT_RUN_FAILED, "%s of %zu bytes at offset %llu of %s: %s",
			f->write ? "write" : "read", t->cfg->access,
			(unsigned long long)f->offset, t->cfg->path,
			strerror(f->err));
	cli_die(&bench_cmd, EXIT_RUN_FAILED, "verification failed in %s at offset %llu (0x%llx): "
		"expected 0x%016llx, got 0x%016llx (was the file written by pageshim bench?)",
		t->cfg->path, (unsigned long long)f->offset, (unsigned long long)f->offset,
		(unsigned long long)f->expected, (unsigned long long)f->got);
}

/* Write r's time series to path as CSV: "second,ops", one row per full
 * second (second k covers [k-1, k) after the start). */
static void write_series(const char *path, const struct bench_result *r)
{
	FILE *f = fopen(path, "w");
	if (!f)
		cli_die(&bench_cmd, EXIT_RUN_FAILED, "--series %s: %s", path, strerror(errno));
	fprintf(f, "second,ops\n");
	for (size_t i = 0; i < r->series_n; i++)
		fprintf(f, "%zu,%llu\n", i + 1, (unsigned long long)r->series[i]);
	if (fclose(f))
		cli_die(&bench_cmd, EXIT_RUN_FAILED, "--series %s: %s", path, strerror(errno));
}

static int bench_main(int argc, char **argv)
{
	struct bench_cfg cfg = { .pattern = PAT_RANDOM, .pattern_text = "random",
				 .io = IO_MMAP, .advice = ADV_NORMAL, .threads = 1, .depth = 1,
				 .seconds = 10, .access = PAGE, .seed = 1, .read_ratio = 1 };
	parse_flags(&cfg, argc, argv);
	check_flags(&cfg);
	struct bench_target t = { .cfg = &cfg, .size = prepare_file(&cfg) };
	if (cfg.seconds == 0) {
		fprintf(stderr, "pageshim bench: %s is ready (%llu bytes)\n", cfg.path,
			(unsigned long long)t.size);
		return 0;
	}
	open_target(&t);
	struct bench_result r;
	int rc = bench_workers_run(&t, &r);
	if (rc)
		report_start(&cfg, r.start_step, rc);
	if (r.failed)
		report_fault(&t, &r.fault);
	if (cfg.read_ratio < 1)
		sync_writes(&t, &r);
	if (cfg.series_path)
		write_series(cfg.series_path, &r);
	bench_report(&t, &r);
	free(r.series);
	return 0;
}

const struct cli_cmd bench_cmd = {
	.name = "bench",
	.synopsis = "pageshim bench --file PATH [--size SIZE] [--pattern random|seq|zipf:THETA|scan+hot] "
		    "[--hot SIZE] [--threads N] [--depth N] [--seconds S] [--access BYTES] "
		    "[--advice normal|random|sequential] [--io mmap|pread|pread-direct] [--seed N] "
		    "[--read-ratio R] [--series FILE] [--json]",
	.summary = "a verified read (and write) workload over a file, through mmap or pread",
	.main = bench_main,
	.help = bench_help,
};
