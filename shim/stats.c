/* stats.c - see stats.h. */
#include "stats.h"
#include "options.h"
#include "real.h"
#include "live.h"
#include "stall.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Files listed in the JSON, most faults first. */
#define STATS_FILES 64

struct ps_counters ps_count;
struct ps_hist ps_fault_hist, ps_io_hist;

uint64_t ps_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ps_latency_summary(const struct ps_hist *h, struct pageshim_latency *out)
{
	out->count = ps_hist_count(h);
	out->p50_us = (uint64_t)(ps_hist_quantile(h, 0.5) / 1000);
	out->p99_us = (uint64_t)(ps_hist_quantile(h, 0.99) / 1000);
	out->p999_us = (uint64_t)(ps_hist_quantile(h, 0.999) / 1000);
	out->max_us = __atomic_load_n(&h->max, __ATOMIC_RELAXED) / 1000;
}

void ps_stats_snapshot(struct pageshim_stats *st)
{
	struct ps_gauges g;
	memset(st, 0, sizeof *st);
	ps_gauges_read(&g);
	st->size = sizeof *st;
	st->version = PAGESHIM_STATS_VERSION;
	st->active = g.active;
	st->budget_bytes = g.budget_bytes;
	st->resident_bytes = g.resident_bytes;
	st->peak_resident_bytes = g.peak_resident_bytes;
	st->dirty_bytes = g.dirty_bytes;
	st->mappings_live = g.mappings_live;
#define PS_COPY_(name, help) st->name = __atomic_load_n(&ps_count.name, __ATOMIC_RELAXED);
	PAGESHIM_COUNTERS(PS_COPY_)
#undef PS_COPY_
	ps_latency_summary(&ps_fault_hist, &st->fault_latency);
	ps_latency_summary(&ps_io_hist, &st->io_latency);
}

static int append(char *buf, size_t len, size_t *o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int append(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
	if (*o >= len)
		return -ENOSPC;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *o, len - *o, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *o) {
		*o = len;       /* sticky: nothing more is appended, and the caller sees it at the end */
		return -ENOSPC;
	}
	*o += (size_t)n;
	return 0;
}

void ps_json_escaped(char *buf, size_t len, size_t *o, const char *s)
{
	if (*o >= len)
		return;
	for (; *s && *o + 7 < len; s++) {
		if (*s == '"' || *s == '\\')
			*o += (size_t)snprintf(buf + *o, len - *o, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			*o += (size_t)snprintf(buf + *o, len - *o, "\\u%04x", (unsigned char)*s);
		else
			buf[(*o)++] = *s;
	}
	buf[*o] = 0;
}

/* `sep` "NAME": {count, percentiles}. */
static void append_latency(char *b, size_t len, size_t *o, const char *sep, const char *name,
			   const struct pageshim_latency *l)
{
	append(b, len, o, "%s\"%s\": {\"count\": %llu, \"p50\": %llu, \"p99\": %llu, "
	       "\"p999\": %llu, \"max\": %llu}", sep, name, (unsigned long long)l->count,
	       (unsigned long long)l->p50_us, (unsigned long long)l->p99_us,
	       (unsigned long long)l->p999_us, (unsigned long long)l->max_us);
}

/* The histogram's non-empty buckets, as [lowest, highest, count]. */
static void append_buckets(char *b, size_t len, size_t *o, const char *name, const struct ps_hist *h)
{
	const char *sep = "";
	append(b, len, o, ",\n  \"%s\": [", name);
	for (unsigned i = 0; i < PS_HIST_BUCKETS; i++) {
		uint64_t n = __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
		if (!n)
			continue;
		append(b, len, o, "%s[%.0f, %.0f, %llu]", sep, ps_hist_bucket_low(i),
		       ps_hist_bucket_low(i + 1) - 1, (unsigned long long)n);
		sep = ", ";
	}
	append(b, len, o, "]");
}

/* The files with the most faults (as pageshim stat shows them). */
static void append_files(char *b, size_t len, size_t *o)
{
	static struct pageshim_live_file files[STATS_FILES];
	unsigned n = ps_live_top_files(files, STATS_FILES);
	append(b, len, o, ",\n  \"files\": [");
	for (unsigned i = 0; i < n; i++) {
		const struct pageshim_live_file *f = &files[i];
		const struct pageshim_file_counts *c = &f->counts;
		append(b, len, o, "%s\n    {\"path\": \"", i ? "," : "");
		ps_json_escaped(b, len, o, f->path);
		append(b, len, o, "\", \"faults\": %llu, \"pages_filled\": %llu, \"bytes_read\": %llu, "
		       "\"evicted_pages\": %llu, \"io_errors\": %llu, \"checksum_mismatches\": %llu",
		       (unsigned long long)c->faults, (unsigned long long)c->pages_filled,
		       (unsigned long long)c->bytes_read, (unsigned long long)c->evicted_pages,
		       (unsigned long long)c->io_errors, (unsigned long long)c->checksum_mismatches);
		append_latency(b, len, o, ", ", "fault_latency_us", &f->fault_latency);
		append_latency(b, len, o, ", ", "io_latency_us", &f->io_latency);
		append(b, len, o, "}");
	}
	append(b, len, o, "%s]", n ? "\n  " : "");
}

int ps_stats_write_json(const char *path)
{
	struct pageshim_stats st;
	static char b[1 << 18];  /* at exit: one thread here */
	char file[4200];
	size_t o = 0;
	ps_stats_snapshot(&st);
	if (ps_path_expand(path, file, sizeof file))
		return -ENAMETOOLONG;
	append(b, sizeof b, &o, "{\n  \"pid\": %d,\n  \"version\": %u,\n  \"active\": %d", (int)getpid(),
	       st.version, st.active);
#define PS_JSON_(name) append(b, sizeof b, &o, ",\n  \"%s\": %llu", #name, (unsigned long long)st.name);
	PS_JSON_(budget_bytes) PS_JSON_(resident_bytes) PS_JSON_(peak_resident_bytes)
	PS_JSON_(dirty_bytes) PS_JSON_(mappings_live)
#define PS_JSON_COUNTER_(name, help) PS_JSON_(name)
	PAGESHIM_COUNTERS(PS_JSON_COUNTER_)
#undef PS_JSON_COUNTER_
#undef PS_JSON_
	append_latency(b, sizeof b, &o, ",\n  ", "fault_latency_us", &st.fault_latency);
	append_latency(b, sizeof b, &o, ",\n  ", "io_latency_us", &st.io_latency);
	append_buckets(b, sizeof b, &o, "fault_hist_ns", &ps_fault_hist);
	append_buckets(b, sizeof b, &o, "io_hist_ns", &ps_io_hist);
	append_files(b, sizeof b, &o);
	size_t sites = o < sizeof b ? ps_stall_json(b + o, sizeof b - o) : 0;
	o += sites;
	if (!sites || append(b, sizeof b, &o, "\n}\n"))
		return -ENOSPC;         /* refused whole, not written without a part */
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ssize_t w = real.write(fd, b, o);
	int err = w == (ssize_t)o ? 0 : -EIO;
	close(fd);
	return err;
}
