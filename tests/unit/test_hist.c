/* test_hist.c - the log-linear histogram's counts and quantiles (shim/hist.c). */
#include "helpers.h"
#include "hist.h"

static struct ps_hist h;

int main(void)
{
	/* one sample at each of 1 .. 100000 ns */
	for (uint64_t v = 1; v <= 100000; v++)
		ps_hist_add(&h, v);
	check(ps_hist_count(&h) == 100000, "count %llu, expected 100000", U(ps_hist_count(&h)));
	/* exact below 2 * PS_HIST_SUB and at a bucket's last value */
	check(ps_hist_count_at_most(&h, 10) == 10, "at most 10: %llu", U(ps_hist_count_at_most(&h, 10)));
	uint64_t last = (uint64_t)(PS_HIST_SUB + 3) * 1024 - 1;    /* a bucket ends here */
	check(ps_hist_count_at_most(&h, last) == last, "at most %llu: %llu", U(last),
	      U(ps_hist_count_at_most(&h, last)));
	/* elsewhere a lower bound within one bucket (6%) */
	uint64_t n = ps_hist_count_at_most(&h, 20000);
	check(n <= 20000 && n >= 20000 - 20000 / PS_HIST_SUB, "at most 20000: %llu", U(n));
	check(ps_hist_count_at_most(&h, UINT64_MAX) == 100000, "at most UINT64_MAX counts all");
	double p50 = ps_hist_quantile(&h, 0.5);
	check(p50 > 50000 * 0.94 && p50 < 50000 * 1.06, "p50 %.0f, expected 50000 within 6%%", p50);
	note("histogram: ok");
	return 0;
}
