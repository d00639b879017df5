/* hist.c - see hist.h. */
#include "hist.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* Bucket of v: below PS_HIST_SUB, v itself; above, the power of two picks a
 * group of PS_HIST_SUB buckets and the 4 bits after the top one the bucket. */
static unsigned bucket_of(uint64_t v)
{
	if (v < PS_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned sub = (unsigned)(v >> (msb - 4)) & (PS_HIST_SUB - 1);
	return (msb - 3) * PS_HIST_SUB + sub;
}

double ps_hist_bucket_low(unsigned b)
{
	if (b < PS_HIST_SUB)
		return b;
	unsigned msb = b / PS_HIST_SUB + 3, sub = b % PS_HIST_SUB;
	return (double)(PS_HIST_SUB + sub) * (double)(1ULL << (msb - 4));
}

void ps_hist_add(struct ps_hist *h, uint64_t v)
{
	__atomic_fetch_add(&h->bucket[bucket_of(v)], 1, __ATOMIC_RELAXED);
	uint64_t m = LOAD(h->max);
	while (v > m && !__atomic_compare_exchange_n(&h->max, &m, v, 1, __ATOMIC_RELAXED,
						     __ATOMIC_RELAXED))
		;
}

void ps_hist_merge(struct ps_hist *into, const struct ps_hist *from)
{
	for (unsigned b = 0; b < PS_HIST_BUCKETS; b++)
		into->bucket[b] += from->bucket[b];
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t ps_hist_count_at_most(const struct ps_hist *h, uint64_t v)
{
	unsigned end = bucket_of(v);
	if (v == UINT64_MAX || bucket_of(v + 1) != end)
		end++;          /* v is its bucket's largest value: the bucket is all <= v */
	uint64_t n = 0;
	for (unsigned b = 0; b < end; b++)
		n += LOAD(h->bucket[b]);
	return n;
}

uint64_t ps_hist_count(const struct ps_hist *h)
{
	return ps_hist_count_at_most(h, UINT64_MAX);
}

double ps_hist_quantile(const struct ps_hist *h, double q)
{
	uint64_t n = ps_hist_count(h);
	if (!n)
		return 0;
	double rank = q * (double)n;
	uint64_t seen = 0;
	unsigned b = 0;
	while ((double)(seen += LOAD(h->bucket[b])) < rank && b < PS_HIST_BUCKETS - 1)
		b++;
	if (b < PS_HIST_SUB)
		return b;
	double mid = (ps_hist_bucket_low(b) + ps_hist_bucket_low(b + 1)) / 2, max = (double)LOAD(h->max);
	return mid < max ? mid : max;
}
