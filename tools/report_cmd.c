/* report_cmd.c - `pageshim report FILE [--svg DIR]`: what a run did, as text
 * and, with --svg, as pictures, from the trace it wrote (PAGESHIM_TRACE,
 * read by trace.c) or from the stats it wrote at exit (PAGESHIM_STATS_FILE,
 * read with json-c). svg.c draws the pictures. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"
#include "svg.h"
#include "trace.h"

#define STATS_MAX_BYTES (64 << 20)      /* a stats file is some KiB: anything this big is not one */
#define HEAT_FILES 8

/* enum pageshim_trace_cause's names; [0] for a cause this version does not know */
static const char *const cause_name[TRACE_CAUSES] = {
	"unknown cause", "first touch", "re-fault", "read-ahead wait", "first write", "spilled",
	"already resident", "error",
};

static void report_help(FILE *f)
{
	fprintf(f, "usage: %s\n", report_cmd.synopsis);
	fprintf(f, "Summarizes a trace written under PAGESHIM_TRACE (pageshim run --trace): faults\n"
		   "by cause, service and I/O times, threads, and per file its faults, latency and\n"
		   "offsets; or the stats written under PAGESHIM_STATS_FILE: counters, latencies,\n"
		   "files and stall sites with their stacks.\n"
		   "  --svg DIR   also draw into DIR (created if missing) latency.svg, the fault\n"
		   "              service-time histogram, and from a trace timeline.svg (faults/s,\n"
		   "              MB/s) and heatmap-1.svg .. heatmap-8.svg (offset against time\n"
		   "              for the 8 files with the most faults)\n"
		   "Exit status: 0, 1 (FILE unreadable, or neither a trace nor stats), 2 (usage).\n");
}

/* One line of latency percentiles: us = p50, p99, p99.9, max. */
static void latency_line(const char *label, uint64_t count, const double us[4])
{
	printf("  %-30s p50 %.1f, p99 %.1f, p99.9 %.1f, max %.1f us, of %llu\n", label, us[0], us[1],
	       us[2], us[3], (unsigned long long)count);
}

/* h's p50, p99 and p99.9 (bucket middles) and its exact max, ns to us. */
static void hist_us(const struct ps_hist *h, double us[4])
{
	us[0] = ps_hist_quantile(h, 0.5) / 1e3;
	us[1] = ps_hist_quantile(h, 0.99) / 1e3;
	us[2] = ps_hist_quantile(h, 0.999) / 1e3;
	us[3] = (double)h->max / 1e3;
}

/* "lo-hi" in K, M, G (the heat maps' units). */
static const char *offsets(char *buf, size_t len, uint64_t lo, uint64_t hi)
{
	char a[32], b[32];
	svg_bytes(a, sizeof a, (double)lo);
	svg_bytes(b, sizeof b, (double)hi);
	snprintf(buf, len, "%s-%s", a, b);
	return buf;
}

/* --svg DIR, created if missing, once there is something to draw. */
static void make_dir(const char *dir)
{
	if (mkdir(dir, 0755) && errno != EEXIST)
		cli_die(&report_cmd, EXIT_RUN_FAILED, "--svg %s: %s", dir, strerror(errno));
}

/* A picture is written, or the run ends saying why. */
static void wrote(const char *path, int err)
{
	if (err)
		cli_die(&report_cmd, EXIT_RUN_FAILED, "%s: %s", path, strerror(-err));
	fprintf(stderr, "wrote %s\n", path);
}

/* DIR/latency.svg, the one picture both kinds of FILE give. */
static void latency_picture(const char *dir, long long pid, uint64_t faults, const struct ps_hist *h)
{
	char path[PATH_MAX], title[128];
	make_dir(dir);
	snprintf(path, sizeof path, "%s/latency.svg", dir);
	snprintf(title, sizeof title, "fault service time: process %lld, %llu faults", pid,
		 (unsigned long long)faults);
	wrote(path, svg_latency(path, title, h));
}

static void trace_pictures(const struct trace *t, const char *dir)
{
	static struct trace_bins bins;
	static struct trace_heat heat[HEAT_FILES];
	char path[PATH_MAX], title[PATH_MAX + 64];
	unsigned nheat = t->nfiles < HEAT_FILES ? t->nfiles : HEAT_FILES;
	latency_picture(dir, t->head.pid, t->faults, &t->service);
	for (unsigned i = 0; i < nheat; i++)
		heat[i].file = t->order[i];
	trace_bin(t, &bins, heat, nheat);
	snprintf(path, sizeof path, "%s/timeline.svg", dir);
	snprintf(title, sizeof title, "faults and MB/s installed: process %d", t->head.pid);
	wrote(path, svg_timeline(path, title, &bins, t->head.page_size));
	for (unsigned i = 0; i < nheat; i++) {
		snprintf(path, sizeof path, "%s/heatmap-%u.svg", dir, i + 1);
		snprintf(title, sizeof title, "%s: %llu faults, offset against time", heat[i].file->path,
			 (unsigned long long)heat[i].file->faults);
		wrote(path, svg_heat(path, title, &heat[i], t->duration_ns));
	}
}

static void trace_report(const char *file, int fd, const char *dir)
{
	static struct trace t;  /* 512 KiB of file table */
	int err = trace_load(fd, &t);
	if (err == -EPROTO)
		cli_die(&report_cmd, EXIT_RUN_FAILED, "%s: a trace of another pageshim version, or cut short "
			"in its header", file);
	if (err == -EBADMSG)
		cli_die(&report_cmd, EXIT_RUN_FAILED, "%s: a fault record names file offsets past 2^64 bytes: "
			"not a trace pageshim wrote", file);
	if (err)
		cli_die(&report_cmd, EXIT_RUN_FAILED, "%s: %s", file, strerror(-err));
	if (t.end < t.size)
		fprintf(stderr, "pageshim report: %s ends %zu bytes into a record (was the process killed?): "
			"read up to there\n", file, t.size - t.end);
	char when[64], range[80];
	time_t secs = (time_t)(t.head.start_realtime_ns / 1000000000u);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&secs));
	printf("trace of process %d, begun %s, pages of %u bytes\n", t.head.pid, when, t.head.page_size);
	struct report r = { .n = 0 };
	report_real(&r, "duration_s", "duration", "s", (double)t.duration_ns / 1e9, 3);
	report_count(&r, "faults", "faults", "", t.faults);
	report_count(&r, "pages", "pages installed", "", t.pages);
	report_real(&r, "installed_mb", "installed", "MB", (double)t.pages * t.head.page_size / 1e6, 1);
	report_count(&r, "threads", "faulting threads", "", t.threads);
	report_table(stdout, &r);
	printf("  faults by cause:\n");
	for (unsigned i = 0; i < TRACE_CAUSES; i++) {
		unsigned c = (i + 1) % TRACE_CAUSES;     /* the unknown ones last */
		if (t.causes[c])
			printf("    %-28s %llu (%.1f%%)\n", cause_name[c], (unsigned long long)t.causes[c],
			       100.0 * (double)t.causes[c] / (double)t.faults);
	}
	double us[4];
	hist_us(&t.service, us);
	latency_line("fault service time", t.faults, us);
	hist_us(&t.io, us);
	latency_line("pread time, faults that read", ps_hist_count(&t.io), us);

	printf("\n  files, most faults first (fault service time):\n  %10s %10s %8s %8s %8s  %-17s  %s\n",
	       "faults", "pages", "p50 us", "p99 us", "max us", "offsets", "path");
	for (unsigned i = 0; i < t.nfiles; i++) {
		const struct trace_file *f = t.order[i];
		hist_us(&f->service, us);
		printf("  %10llu %10llu %8.1f %8.1f %8.1f  %-17s  %s\n", (unsigned long long)f->faults,
		       (unsigned long long)f->pages, us[0], us[1], us[3],
		       offsets(range, sizeof range, f->off_min, f->off_end), f->path);
	}
	if (dir && !t.faults)
		fprintf(stderr, "pageshim report: %s holds no faults: no pictures\n", file);
	else if (dir)
		trace_pictures(&t, dir);
	trace_free(&t);
}

/* o[key] as a count: 0, or -1 when it is missing or not a number. */
static int number(struct json_object *o, const char *key, uint64_t *v)
{
	struct json_object *x;
	if (!json_object_object_get_ex(o, key, &x) ||
	    !(json_object_is_type(x, json_type_int) || json_object_is_type(x, json_type_double)))
		return -1;
	*v = json_object_get_uint64(x);
	return 0;
}

static void stats_latency(struct json_object *o, const char *key, const char *label)
{
	static const char *const q[] = { "p50", "p99", "p999", "max" };
	struct json_object *l;
	uint64_t count = 0, v;
	double us[4];
	if (!json_object_object_get_ex(o, key, &l) || !json_object_is_type(l, json_type_object))
		return;
	number(l, "count", &count);
	for (unsigned i = 0; i < 4; i++)
		us[i] = number(l, q[i], &v) ? 0 : (double)v;
	latency_line(label, count, us);
}

/* o[key] when it is an array, else NULL. */
static struct json_object *array(struct json_object *o, const char *key)
{
	struct json_object *a;
	return json_object_object_get_ex(o, key, &a) && json_object_is_type(a, json_type_array) ? a : NULL;
}

/* o[key] when it is a string, else "?". */
static const char *text(struct json_object *o, const char *key)
{
	struct json_object *s;
	return json_object_object_get_ex(o, key, &s) && json_object_is_type(s, json_type_string) ?
	       json_object_get_string(s) : "?";
}

/* latency.svg from the stats' histogram, its buckets put back into a
 * ps_hist (each count into the bucket holding its low bound). */
static void stats_picture(const char *file, struct json_object *o, const char *dir)
{
	static struct ps_hist h;
	struct json_object *hist = array(o, "fault_hist_ns"), *lat;
	uint64_t v, pid = 0, faults = 0;
	for (size_t i = 0; hist && i < json_object_array_length(hist); i++) {
		struct json_object *e = json_object_array_get_idx(hist, i);
		if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != 3)
			continue;
		double lo = json_object_get_double(json_object_array_get_idx(e, 0));
		unsigned b = 0;
		while (b + 1 < PS_HIST_BUCKETS && ps_hist_bucket_low(b + 1) <= lo)
			b++;
		h.bucket[b] += json_object_get_uint64(json_object_array_get_idx(e, 2));
		h.max = (uint64_t)json_object_get_double(json_object_array_get_idx(e, 1));
	}
	if (!ps_hist_count(&h)) {
		fprintf(stderr, "pageshim report: %s holds no fault histogram (\"fault_hist_ns\": an older "
			"pageshim's, or no faults): no picture\n", file);
		return;
	}
	if (json_object_object_get_ex(o, "fault_latency_us", &lat) && !number(lat, "max", &v))
		h.max = v * 1000;
	number(o, "pid", &pid);
	number(o, "faults", &faults);
	latency_picture(dir, (long long)pid, faults, &h);
}

/* The files table, when the stats have one (older ones do not). */
static void stats_files(struct json_object *files)
{
	static const char *const key[] = { "faults", "pages_filled", "bytes_read", "evicted_pages",
					   "io_errors", "checksum_mismatches", "p50", "p99", "max" };
	if (!files)
		return;
	printf("\n  files, most faults first (fault service time):\n"
	       "  %10s %10s %10s %10s %7s %8s %8s %8s  %s\n", "faults", "filled", "MB read", "evicted",
	       "errors", "p50 us", "p99 us", "max us", "path");
	for (size_t i = 0; i < json_object_array_length(files); i++) {
		struct json_object *f = json_object_array_get_idx(files, i), *lat = NULL;
		uint64_t c[9] = { 0 };
		json_object_object_get_ex(f, "fault_latency_us", &lat);
		for (unsigned k = 0; k < 9; k++)
			number(k < 6 ? f : lat, key[k], &c[k]);
		printf("  %10llu %10llu %10.1f %10llu %7llu %8llu %8llu %8llu  %s\n",
		       (unsigned long long)c[0], (unsigned long long)c[1], (double)c[2] / 1e6,
		       (unsigned long long)c[3], (unsigned long long)(c[4] + c[5]), (unsigned long long)c[6],
		       (unsigned long long)c[7], (unsigned long long)c[8], text(f, "path"));
	}
}

/* The stall sites, each with its stack one frame a line, when the stats
 * have them. */
static void stats_sites(struct json_object *o, struct json_object *sites)
{
	static const char *const key[] = { "count", "total_us", "max_us", "offset_min", "offset_max" };
	uint64_t lost = 0;
	if (!sites)
		return;
	number(o, "stall_sites_lost", &lost);
	printf("\n  stall sites, most waiting first (%llu more not kept):\n  %10s %10s %10s  %s\n",
	       (unsigned long long)lost, "faults", "total ms", "max ms",
	       "file offsets, stack innermost first");
	for (size_t i = 0; i < json_object_array_length(sites); i++) {
		struct json_object *s = json_object_array_get_idx(sites, i), *stack = array(s, "stack");
		uint64_t c[5] = { 0 };
		char range[80];
		for (unsigned k = 0; k < 5; k++)
			number(s, key[k], &c[k]);
		printf("  %10llu %10.1f %10.1f  %s %s\n", (unsigned long long)c[0], (double)c[1] / 1e3,
		       (double)c[2] / 1e3, text(s, "file"), offsets(range, sizeof range, c[3], c[4]));
		for (size_t d = 0; stack && d < json_object_array_length(stack); d++)
			printf("  %34s%s\n", "", json_object_get_string(json_object_array_get_idx(stack, d)));
	}
}

/* The stats' top-level numbers, each with what it means: a few gauges,
 * then the counters as the library defines them. */
#define STATS_KEY_(name, help) { #name, help },
static const struct {
	const char *key, *help;
} stats_keys[] = {
	{ "pid", "the process" },
	{ "version", "of the stats format" },
	{ "active", "1 when userfaultfd served the mappings" },
	{ "budget_bytes", "cache budget" },
	{ "peak_resident_bytes", "managed pages resident at most" },
	PAGESHIM_COUNTERS(STATS_KEY_)
};
#undef STATS_KEY_

static void stats_report(const char *file, int fd, const char *dir)
{
	struct stat st;
	struct json_object *o = NULL;
	if (fstat(fd, &st) == 0 && st.st_size <= STATS_MAX_BYTES)
		o = json_object_from_fd(fd);
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "version", NULL))
		cli_die(&report_cmd, EXIT_RUN_FAILED, "%s is neither a pageshim trace (it would begin with \""
			PAGESHIM_TRACE_MAGIC "\") nor a stats file (a JSON object with \"version\")", file);
	uint64_t v;
	for (size_t i = 0; i < sizeof stats_keys / sizeof stats_keys[0]; i++)
		if (!number(o, stats_keys[i].key, &v))
			printf("  %-24s %14llu  %s\n", stats_keys[i].key, (unsigned long long)v,
			       stats_keys[i].help);
	stats_latency(o, "fault_latency_us", "fault service time");
	stats_latency(o, "io_latency_us", "one pread");

	stats_files(array(o, "files"));
	stats_sites(o, array(o, "stall_sites"));
	if (dir)
		stats_picture(file, o, dir);
	json_object_put(o);
}

static int report_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "svg", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *file = NULL, *dir = NULL;
	optind = 1;
	/* flags may follow FILE: getopt stops at it, so take it and go on */
	for (;;) {
		while (cli_getopt(&report_cmd, argc, argv, opts) != -1)
			dir = optarg;
		if (optind >= argc)
			break;
		if (file)
			cli_usage_error(&report_cmd, "expected one FILE, got \"%s\" too", argv[optind]);
		file = argv[optind++];
	}
	if (!file)
		cli_usage_error(&report_cmd, "expected a trace or a stats FILE");
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		cli_die(&report_cmd, EXIT_RUN_FAILED, "%s: %s", file, strerror(errno));
	/* the size limits below hold only for a regular file (/dev/zero never ends) */
	if (!S_ISREG(st.st_mode))
		cli_die(&report_cmd, EXIT_RUN_FAILED, "%s: not a regular file", file);
	char magic[8];
	ssize_t got = pread(fd, magic, sizeof magic, 0);
	if (got < 0)
		cli_die(&report_cmd, EXIT_RUN_FAILED, "%s: %s", file, strerror(errno));
	if (got == sizeof magic && !memcmp(magic, PAGESHIM_TRACE_MAGIC, sizeof magic))
		trace_report(file, fd, dir);
	else
		stats_report(file, fd, dir);
	close(fd);
	return 0;
}

const struct cli_cmd report_cmd = {
	.name = "report",
	.synopsis = "pageshim report FILE [--svg DIR]",
	.summary = "a run's trace or stats file as a summary, and with --svg as pictures",
	.main = report_main,
	.help = report_help,
};
