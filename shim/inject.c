/* inject.c - see inject.h. */
#include "inject.h"

#include <errno.h>
#include <fnmatch.h>
#include <time.h>

#include "file.h"
#include "init.h"
#include "options.h"
#include "region.h"

/* Per rule: reads that matched, and the generator (xorshift64*). */
static uint64_t matched[PS_INJECT_RULES];
static uint64_t rng[PS_INJECT_RULES];

static int fires(unsigned i, const struct ps_inject_rule *r, const struct ps_file *f, uint64_t off,
		 size_t len)
{
	if (off >= r->to || off + len <= r->from || (r->glob[0] && fnmatch(r->glob, f->path, 0)))
		return 0;
	uint64_t n = __atomic_add_fetch(&matched[i], 1, __ATOMIC_RELAXED);
	if (r->every)
		return n % r->every == 0;
	if (r->prob >= 1)
		return 1;
	uint64_t x = __atomic_load_n(&rng[i], __ATOMIC_RELAXED), next;
	do {
		next = x ? x : (r->seed ^ 0x9e3779b97f4a7c15ULL) + i;
		next ^= next >> 12;
		next ^= next << 25;
		next ^= next >> 27;
	} while (!__atomic_compare_exchange_n(&rng[i], &x, next, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return (double)((next * 0x2545f4914f6cdd1dULL) >> 11) / (double)(1ULL << 53) < r->prob;
}

int ps_inject_before(const struct ps_file *f, uint64_t off, size_t *len)
{
	int err = 0;
	for (unsigned i = 0; i < ps_opt.ninject; i++) {
		const struct ps_inject_rule *r = &ps_opt.inject[i];
		if (r->kind == PS_INJECT_CORRUPT || !fires(i, r, f, off, *len))
			continue;
		if (r->kind == PS_INJECT_DELAY) {
			struct timespec t = { r->delay_ms / 1000, (long)(r->delay_ms % 1000) * 1000000L };
			while (nanosleep(&t, &t) && errno == EINTR)
				;
		} else if (r->kind == PS_INJECT_SHORT && *len > PS_PAGE) {
			*len = (*len / PS_PAGE + 1) / 2 * PS_PAGE;
		} else if (r->kind == PS_INJECT_EIO) {
			err = -EIO;
		}
	}
	return err;
}

void ps_inject_after(const struct ps_file *f, void *buf, size_t got, uint64_t off)
{
	for (unsigned i = 0; i < ps_opt.ninject; i++) {
		const struct ps_inject_rule *r = &ps_opt.inject[i];
		if (r->kind != PS_INJECT_CORRUPT || !fires(i, r, f, off, got))
			continue;
		for (size_t p = 0; p < got; p += PS_PAGE)
			((unsigned char *)buf)[p + (off + p) % 251 % (got - p < PS_PAGE ? got - p : PS_PAGE)] ^= 0x5a;
	}
}
