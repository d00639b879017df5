/* bench_report.c - `pageshim bench`'s result, as a table or as JSON.
 *
 * The result is first turned into one list of fields (key, label, unit,
 * value); one function prints that list as a table and another as JSON,
 * so the two forms always hold the same numbers. When libpageshim.so is
 * loaded in this process, its stats (pageshim.h) are appended. */
#include "bench.h"
#include "pageshim.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum field_kind { FIELD_TEXT, FIELD_COUNT, FIELD_REAL };

struct field {
	const char *key;        /* JSON name */
	const char *label;      /* table name */
	const char *unit;       /* after the value in the table; "" for none */
	enum field_kind kind;
	const char *text;
	uint64_t count;
	double real;
	int decimals;
};

#define MAX_FIELDS 64

struct report {
	struct field f[MAX_FIELDS];
	unsigned n;
};

static void add(struct report *r, struct field f)
{
	if (r->n < MAX_FIELDS)
		r->f[r->n++] = f;
}

static void add_text(struct report *r, const char *key, const char *label, const char *text)
{
	add(r, (struct field){ key, label, "", FIELD_TEXT, .text = text });
}

static void add_count(struct report *r, const char *key, const char *label, const char *unit,
		      uint64_t v)
{
	add(r, (struct field){ key, label, unit, FIELD_COUNT, .count = v });
}

static void add_real(struct report *r, const char *key, const char *label, const char *unit,
		     double v, int decimals)
{
	add(r, (struct field){ key, label, unit, FIELD_REAL, .real = v, .decimals = decimals });
}

static void print_table(FILE *out, const struct report *r)
{
	for (unsigned i = 0; i < r->n; i++) {
		const struct field *f = &r->f[i];
		fprintf(out, "  %-30s ", f->label);
		if (f->kind == FIELD_TEXT)
			fprintf(out, "%s", f->text);
		else if (f->kind == FIELD_COUNT)
			fprintf(out, "%llu", (unsigned long long)f->count);
		else
			fprintf(out, "%.*f", f->decimals, f->real);
		fprintf(out, "%s%s\n", *f->unit ? " " : "", f->unit);
	}
}

/* s as a JSON string: quotes, backslashes and control characters escaped. */
static void print_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void print_json(FILE *out, const struct report *r)
{
	fputc('{', out);
	for (unsigned i = 0; i < r->n; i++) {
		const struct field *f = &r->f[i];
		fprintf(out, "%s\"%s\":", i ? "," : "", f->key);
		if (f->kind == FIELD_TEXT)
			print_json_string(out, f->text);
		else if (f->kind == FIELD_COUNT)
			fprintf(out, "%llu", (unsigned long long)f->count);
		else
			fprintf(out, "%.*f", f->decimals, f->real);
	}
	fputs("}\n", out);
}

static void add_workload(struct report *r, const struct bench_target *t)
{
	const struct bench_cfg *c = t->cfg;
	add_text(r, "file", "file", c->path);
	add_count(r, "file_bytes", "file size", "bytes", t->size);
	add_text(r, "pattern", "pattern", bench_pattern_names[c->pattern]);
	add_text(r, "io", "io", bench_io_names[c->io]);
	add_text(r, "advice", "advice", bench_advice_names[c->advice]);
	add_count(r, "threads", "threads", "", c->threads);
	add_count(r, "access_bytes", "access size", "bytes", c->access);
}

static double tv_seconds(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double ops_per_s(const struct bench_result *res)
{
	return res->elapsed > 0 ? (double)res->ops / res->elapsed : 0;
}

static void add_results(struct report *r, const struct bench_target *t,
			const struct bench_result *res)
{
	const struct rusage *u = &res->usage;
	add_real(r, "seconds", "elapsed", "s", res->elapsed, 2);
	add_count(r, "ops", "accesses", "", res->ops);
	add_real(r, "ops_per_s", "ops/s", "", ops_per_s(res), 0);
	add_real(r, "mb_per_s", "MB/s", "(10^6 bytes)",
		 ops_per_s(res) * (double)t->cfg->access / 1e6, 1);
	add_real(r, "p50_us", "latency p50", "us", ps_hist_quantile(&res->latency, 0.5) / 1e3, 2);
	add_real(r, "p99_us", "latency p99", "us", ps_hist_quantile(&res->latency, 0.99) / 1e3, 2);
	add_real(r, "p999_us", "latency p99.9", "us", ps_hist_quantile(&res->latency, 0.999) / 1e3, 2);
	add_real(r, "max_us", "latency max", "us", (double)res->latency.max / 1e3, 2);
	add_real(r, "peak_rss_mib", "peak RSS (process)", "MiB", (double)u->ru_maxrss / 1024, 1);
	add_count(r, "major_faults", "major faults", "", (uint64_t)u->ru_majflt);
	add_count(r, "minor_faults", "minor faults", "", (uint64_t)u->ru_minflt);
	add_real(r, "user_s", "user CPU", "s", tv_seconds(u->ru_utime), 2);
	add_real(r, "sys_s", "system CPU", "s", tv_seconds(u->ru_stime), 2);
}

/* The library's stats, when it is loaded here and speaks our version. */
static int library_stats(struct pageshim_stats *st)
{
	int (*rd)(struct pageshim_stats *, size_t) =
		(int (*)(struct pageshim_stats *, size_t))dlsym(RTLD_DEFAULT, "pageshim_stats_read");
	memset(st, 0, sizeof *st);
	return rd && rd(st, sizeof *st) == 0 && st->version == PAGESHIM_STATS_VERSION ? 0 : -1;
}

static void add_library(struct report *r, const struct pageshim_stats *st)
{
	add_count(r, "pageshim_active", "pageshim active", "", (uint64_t)st->active);
	add_real(r, "pageshim_budget_mib", "pageshim budget", "MiB",
		 (double)st->budget_bytes / (1 << 20), 1);
	add_real(r, "pageshim_peak_resident_mib", "pageshim peak resident", "MiB",
		 (double)st->peak_resident_bytes / (1 << 20), 1);
#define ADD_COUNTER_(name, help) add_count(r, "pageshim_" #name, "pageshim " #name, "", st->name);
	PAGESHIM_COUNTERS(ADD_COUNTER_)
#undef ADD_COUNTER_
	add_count(r, "pageshim_fault_p99_us", "pageshim fault p99", "us", st->fault_latency.p99_us);
	add_count(r, "pageshim_io_p99_us", "pageshim read p99", "us", st->io_latency.p99_us);
}

void bench_report(const struct bench_target *t, const struct bench_result *res)
{
	static struct report r;         /* static: ~5 KiB, printed once */
	struct pageshim_stats st;
	r.n = 0;
	add_workload(&r, t);
	add_results(&r, t, res);
	if (library_stats(&st) == 0)
		add_library(&r, &st);
	if (t->cfg->json)
		print_json(stdout, &r);
	else
		print_table(stdout, &r);
	printf("ops/s: %.0f\n", ops_per_s(res));
	fflush(stdout);
}
