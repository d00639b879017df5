/* stats.h - counters, gauges and latency histograms.
 *
 * Counters are relaxed atomics (a handful of handler threads update them;
 * a relaxed add is a few nanoseconds against a 10 µs fault). Latencies go
 * into histograms (hist.h), so percentiles come from every sample. */
#ifndef PAGESHIM_STATS_H
#define PAGESHIM_STATS_H

#include "hist.h"
#include "pageshim.h"

#include <stdint.h>

struct ps_counters {
#define PS_COUNTER_FIELD_(name, help) uint64_t name;
	PAGESHIM_COUNTERS(PS_COUNTER_FIELD_)
#undef PS_COUNTER_FIELD_
};

extern struct ps_counters ps_count;

#define PS_COUNT(name, n) __atomic_fetch_add(&ps_count.name, (uint64_t)(n), __ATOMIC_RELAXED)

extern struct ps_hist ps_fault_hist, ps_io_hist;   /* nanoseconds */

uint64_t ps_now_ns(void);

/* Gauges owned by other modules, read here. */
struct ps_gauges {
	int active;
	uint64_t budget_bytes, resident_bytes, peak_resident_bytes, dirty_bytes, mappings_live;
};
void ps_gauges_read(struct ps_gauges *g);   /* implemented by the engine (init.c) */

void ps_stats_snapshot(struct pageshim_stats *st);
/* A histogram's count and percentiles, in microseconds. */
void ps_latency_summary(const struct ps_hist *h, struct pageshim_latency *out);

/* Append s to buf at *o as the inside of a JSON string, escaped; stops
 * short of the end of buf, which stays terminated (nothing when *o is
 * already at or past len). */
void ps_json_escaped(char *buf, size_t len, size_t *o, const char *s);

/* Write the snapshot as one JSON object to `path` (%p = pid). 0 or -errno. */
int ps_stats_write_json(const char *path);

#endif
