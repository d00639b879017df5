/* hist.h - log-linear latency histograms, shared by the library and the tools.
 *
 * Values below PS_HIST_SUB have a bucket each; above, each power of two is
 * cut into PS_HIST_SUB equal buckets, so a quantile is off by at most
 * 1/PS_HIST_SUB (6%) and every sample counts, not a sample of them. 8 KiB
 * covers all of uint64_t. Adds are relaxed atomics: the library's global
 * histograms take them from several handler threads; a per-thread one
 * (the bench's) pays an uncontended locked add. */
#ifndef PAGESHIM_HIST_H
#define PAGESHIM_HIST_H

#include <stdint.h>

#define PS_HIST_SUB 16
#define PS_HIST_BUCKETS (64 * PS_HIST_SUB)

struct ps_hist {
	uint64_t bucket[PS_HIST_BUCKETS];
	uint64_t max;
};

void ps_hist_add(struct ps_hist *h, uint64_t v);
/* into += from (from must not be changing). */
void ps_hist_merge(struct ps_hist *into, const struct ps_hist *from);
uint64_t ps_hist_count(const struct ps_hist *h);
/* How many samples are <= v, in whole buckets: a bucket counts when its
 * largest value is <= v. Exact when v is its bucket's largest value (every
 * v < 2 * PS_HIST_SUB, and v = (PS_HIST_SUB + k) * 2^m - 1 for k = 1 ..
 * PS_HIST_SUB); otherwise the bucket holding v is left out, since it spans
 * both sides of v, and the result counts the samples below that bucket's
 * start, which is less than v / PS_HIST_SUB (6%) under v: a lower bound. */
uint64_t ps_hist_count_at_most(const struct ps_hist *h, uint64_t v);
/* The value below which a fraction q (0..1) of the samples lie: the middle
 * of the bucket holding sample number ceil(q * count), at most the largest
 * sample. 0 when empty. */
double ps_hist_quantile(const struct ps_hist *h, double q);

/* Smallest value in bucket b, 0 .. PS_HIST_BUCKETS (a double: the bucket
 * after the last starts at 2^64). */
double ps_hist_bucket_low(unsigned b);

#endif
