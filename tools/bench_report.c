/* bench_report.c - `pageshim bench`'s result, as a table or as JSON.
 *
 * The result is first turned into one list of fields (report.h), printed
 * as a table or as JSON, so the two forms always hold the same numbers.
 * When libpageshim.so is loaded in this process, its stats (pageshim.h)
 * are appended. */
#include "bench.h"
#include "pageshim.h"
#include "report.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* scan+hot: a hot reader's access that took at most this long was served
 * from memory (the hit ratio). A page in memory is read in well under 1 us
 * (a 4 KiB access with its check: about 1 us), a kernel minor fault on a
 * cached page takes 1-2 us, while any read from the device here takes 40 us
 * or more and a userfaultfd round trip alone 10-20 us: above 20 us, the
 * access waited for I/O. Meant for small accesses (the default 4 KiB): a
 * large one's check alone can pass it; a thread preempted mid-access also
 * counts as a miss. ps_hist_count_at_most counts whole buckets, so the
 * bound applied is 19.456 us, the edge of the bucket holding 20 us. */
#define HOT_HIT_NS 20000

static void add_workload(struct report *r, const struct bench_target *t)
{
	const struct bench_cfg *c = t->cfg;
	report_text(r, "file", "file", c->path);
	report_count(r, "file_bytes", "file size", "bytes", t->size);
	report_text(r, "pattern", "pattern", c->pattern_text);
	if (c->pattern == PAT_SCAN_HOT)
		report_count(r, "hot_bytes", "hot set", "bytes", t->hot_slots * c->access);
	report_text(r, "io", "io", bench_io_names[c->io]);
	report_text(r, "advice", "advice", bench_advice_names[c->advice]);
	report_count(r, "threads", "threads", "", c->threads);
	report_count(r, "depth", "accesses in flight per thread", "", c->depth);
	report_count(r, "access_bytes", "access size", "bytes", c->access);
	report_real(r, "read_ratio", "read ratio", "", c->read_ratio, 2);
}

static double tv_seconds(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* n accesses over the run, per second. */
static double per_s(const struct bench_result *res, uint64_t n)
{
	return res->elapsed > 0 ? (double)n / res->elapsed : 0;
}

static double ops_per_s(const struct bench_result *res)
{
	return per_s(res, res->ops);
}

/* scan+hot: each role's rate, and the hot readers' latency and hit ratio. */
static void add_roles(struct report *r, const struct bench_target *t,
		      const struct bench_result *res)
{
	const struct ps_hist *h = &res->hot_latency;
	uint64_t n = ps_hist_count(h);
	report_real(r, "hot_ops_per_s", "hot readers ops/s", "", per_s(res, res->ops - res->scan_ops), 0);
	report_real(r, "hot_p50_us", "hot readers latency p50", "us", ps_hist_quantile(h, 0.5) / 1e3, 2);
	report_real(r, "hot_p99_us", "hot readers latency p99", "us", ps_hist_quantile(h, 0.99) / 1e3, 2);
	report_real(r, "hot_p999_us", "hot readers latency p99.9", "us",
		    ps_hist_quantile(h, 0.999) / 1e3, 2);
	if (n)
		report_real(r, "hot_hit_ratio", "hot readers hit ratio", "(<= 20 us)",
			    (double)ps_hist_count_at_most(h, HOT_HIT_NS) / (double)n, 4);
	else
		report_none(r, "hot_hit_ratio", "hot readers hit ratio", "(<= 20 us)");
	report_real(r, "scan_ops_per_s", "scanner ops/s", "", per_s(res, res->scan_ops), 0);
	report_real(r, "scan_mb_per_s", "scanner MB/s", "(10^6 bytes)",
		    per_s(res, res->scan_ops) * (double)t->cfg->access / 1e6, 1);
}

static void add_results(struct report *r, const struct bench_target *t,
			const struct bench_result *res)
{
	const struct rusage *u = &res->usage;
	report_real(r, "seconds", "elapsed", "s", res->elapsed, 2);
	report_count(r, "ops", "accesses", "", res->ops);
	if (t->cfg->read_ratio < 1) {
		report_count(r, "writes", "of which writes", "", res->writes);
		report_real(r, "sync_s", "final msync/fdatasync", "s", res->sync_seconds, 3);
	}
	report_real(r, "ops_per_s", "ops/s", "", ops_per_s(res), 0);
	report_real(r, "mb_per_s", "MB/s", "(10^6 bytes)",
		 ops_per_s(res) * (double)t->cfg->access / 1e6, 1);
	report_real(r, "p50_us", "latency p50", "us", ps_hist_quantile(&res->latency, 0.5) / 1e3, 2);
	report_real(r, "p99_us", "latency p99", "us", ps_hist_quantile(&res->latency, 0.99) / 1e3, 2);
	report_real(r, "p999_us", "latency p99.9", "us", ps_hist_quantile(&res->latency, 0.999) / 1e3, 2);
	report_real(r, "max_us", "latency max", "us", (double)res->latency.max / 1e3, 2);
	if (t->cfg->pattern == PAT_SCAN_HOT)
		add_roles(r, t, res);
	report_series(r, "series_ops", "ops in each second", "", res->series, res->series_n);
	report_real(r, "peak_rss_mib", "peak RSS (process)", "MiB", (double)u->ru_maxrss / 1024, 1);
	report_count(r, "major_faults", "major faults", "", (uint64_t)u->ru_majflt);
	report_count(r, "minor_faults", "minor faults", "", (uint64_t)u->ru_minflt);
	report_real(r, "user_s", "user CPU", "s", tv_seconds(u->ru_utime), 2);
	report_real(r, "sys_s", "system CPU", "s", tv_seconds(u->ru_stime), 2);
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
	report_count(r, "pageshim_active", "pageshim active", "", (uint64_t)st->active);
	report_real(r, "pageshim_budget_mib", "pageshim budget", "MiB",
		 (double)st->budget_bytes / (1 << 20), 1);
	report_real(r, "pageshim_peak_resident_mib", "pageshim peak resident", "MiB",
		 (double)st->peak_resident_bytes / (1 << 20), 1);
#define ADD_COUNTER_(name, help) report_count(r, "pageshim_" #name, "pageshim " #name, "", st->name);
	PAGESHIM_COUNTERS(ADD_COUNTER_)
#undef ADD_COUNTER_
	report_count(r, "pageshim_fault_p99_us", "pageshim fault p99", "us", st->fault_latency.p99_us);
	report_count(r, "pageshim_io_p99_us", "pageshim read p99", "us", st->io_latency.p99_us);
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
	if (t->cfg->json) {
		report_json(stdout, &r);
		putchar('\n');
	} else {
		report_table(stdout, &r);
	}
	printf("ops/s: %.0f\n", ops_per_s(res));
	fflush(stdout);
}
