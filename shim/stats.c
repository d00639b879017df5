/* stats.c - see stats.h. */
#include "stats.h"
#include "real.h"
#include "stall.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct ps_counters ps_count;
struct ps_hist ps_fault_hist, ps_io_hist;

uint64_t ps_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Latency summary in microseconds. */
static void summary(const struct ps_hist *h, struct pageshim_latency *out)
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
	summary(&ps_fault_hist, &st->fault_latency);
	summary(&ps_io_hist, &st->io_latency);
}

/* Expand %p in path into out. */
static void expand_path(const char *path, char *out, size_t outlen)
{
	size_t o = 0;
	for (const char *p = path; *p && o + 24 < outlen; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			o += (size_t)snprintf(out + o, outlen - o, "%d", (int)getpid());
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = 0;
}

static int append(char *buf, size_t len, size_t *o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int append(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *o, len - *o, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *o)
		return -ENOSPC;
	*o += (size_t)n;
	return 0;
}

static void append_latency(char *b, size_t len, size_t *o, const char *name,
			   const struct pageshim_latency *l)
{
	append(b, len, o, ",\n  \"%s\": {\"count\": %llu, \"p50\": %llu, \"p99\": %llu, "
	       "\"p999\": %llu, \"max\": %llu}", name, (unsigned long long)l->count,
	       (unsigned long long)l->p50_us, (unsigned long long)l->p99_us,
	       (unsigned long long)l->p999_us, (unsigned long long)l->max_us);
}

int ps_stats_write_json(const char *path)
{
	struct pageshim_stats st;
	static char b[65536];   /* at exit: one thread here */
	char file[4200];
	size_t o = 0;
	ps_stats_snapshot(&st);
	expand_path(path, file, sizeof file);
	append(b, sizeof b, &o, "{\n  \"pid\": %d,\n  \"version\": %u,\n  \"active\": %d", (int)getpid(),
	       st.version, st.active);
#define PS_JSON_(name) append(b, sizeof b, &o, ",\n  \"%s\": %llu", #name, (unsigned long long)st.name);
	PS_JSON_(budget_bytes) PS_JSON_(resident_bytes) PS_JSON_(peak_resident_bytes)
	PS_JSON_(dirty_bytes) PS_JSON_(mappings_live)
#define PS_JSON_COUNTER_(name, help) PS_JSON_(name)
	PAGESHIM_COUNTERS(PS_JSON_COUNTER_)
#undef PS_JSON_COUNTER_
#undef PS_JSON_
	append_latency(b, sizeof b, &o, "fault_latency_us", &st.fault_latency);
	append_latency(b, sizeof b, &o, "io_latency_us", &st.io_latency);
	if (o < sizeof b)
		o += ps_stall_json(b + o, sizeof b - o);
	if (append(b, sizeof b, &o, "\n}\n"))
		return -ENOSPC;
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ssize_t w = real.write(fd, b, o);
	int err = w == (ssize_t)o ? 0 : -EIO;
	close(fd);
	return err;
}
