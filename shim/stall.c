/* stall.c - see stall.h. */
#include "stall.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "init.h"
#include "options.h"
#include "pageshim.h"
#include "sigbus.h"
#include "stats.h"
#include "symbols.h"

#define REQUESTS 64             /* stacks asked for and not yet taken */
#define SITES 128
#define DEPTH 16
#define FILE_CHARS 120
#define JSON_SITES 20           /* written out, most total waiting first */
#define CLAIMING UINT32_MAX

/* A request's tid is 0 when free, CLAIMING while it is written. */
static struct {
	uint32_t tid;
	const char *path;
	uint64_t off, ns;
} requests[REQUESTS];

/* A site's key is the hash of its stack: 0 when free, 1 while written. */
struct site {
	uint64_t key;
	unsigned depth;
	uintptr_t ip[DEPTH];
	uint64_t count, total_ns, max_ns, off_min, off_max;
	char file[FILE_CHARS];
};
static struct site sites[SITES];
static uint64_t offered;        /* faults ps_stall_seen saw, for the sample */
static uint64_t lost;           /* stacks taken with no room left for their site */

void ps_stall_seen(uint32_t tid, const char *path, uint64_t off, uint64_t ns)
{
	int slow = ps_opt.slow_us && ns >= (uint64_t)ps_opt.slow_us * 1000;
	int sampled = ps_opt.stack_sample &&
		      __atomic_fetch_add(&offered, 1, __ATOMIC_RELAXED) % ps_opt.stack_sample == 0;
	if ((!slow && !sampled) || !ps_internal_signal_usable(tid))
		return;
	for (unsigned i = 0; i < REQUESTS; i++) {
		uint32_t free_ = 0;
		if (!__atomic_compare_exchange_n(&requests[i].tid, &free_, CLAIMING, 0, __ATOMIC_ACQUIRE,
						 __ATOMIC_RELAXED))
			continue;
		requests[i].path = path;
		requests[i].off = off;
		requests[i].ns = ns;
		__atomic_store_n(&requests[i].tid, tid, __ATOMIC_RELEASE);
		if (ps_internal_signal(tid))
			__atomic_store_n(&requests[i].tid, 0, __ATOMIC_RELEASE);
		return;
	}
}

static void store_max(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
	while (v > cur && !__atomic_compare_exchange_n(p, &cur, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static void store_min(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
	while (v < cur && !__atomic_compare_exchange_n(p, &cur, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* The site of this stack, made if new; NULL when the table is full. */
static struct site *site_of(const uintptr_t *ip, unsigned depth, const char *path, uint64_t off)
{
	uint64_t key = 0xcbf29ce484222325ULL;   /* FNV-1a over the addresses */
	for (unsigned i = 0; i < depth; i++)
		key = (key ^ ip[i]) * 0x100000001b3ULL;
	key |= 2;
	for (unsigned n = 0, i = (unsigned)(key % SITES); n < SITES;) {
		struct site *s = &sites[i];
		uint64_t k = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
		if (k == 0 && __atomic_compare_exchange_n(&s->key, &k, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
			s->depth = depth;
			memcpy(s->ip, ip, depth * sizeof *ip);
			size_t l = strnlen(path, sizeof s->file - 1);  /* no stdio in a signal handler */
			memcpy(s->file, path, l);
			s->file[l] = 0;
			s->off_min = s->off_max = off;
			__atomic_store_n(&s->key, key, __ATOMIC_RELEASE);
			return s;
		}
		while (k == 1)          /* being written by another thread */
			k = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
		if (k == key)
			return s;
		if (k != 0) {           /* another stack's: the next slot */
			n++;
			i = (i + 1) % SITES;
		}
	}
	return NULL;
}

int ps_stall_capture(uint32_t tid, void *uc)
{
	unsigned r = 0;
	while (r < REQUESTS && __atomic_load_n(&requests[r].tid, __ATOMIC_ACQUIRE) != tid)
		r++;
	if (r == REQUESTS)
		return 0;
	const char *path = requests[r].path;
	uint64_t off = requests[r].off, ns = requests[r].ns;
	__atomic_store_n(&requests[r].tid, 0, __ATOMIC_RELEASE);

	uintptr_t ip[DEPTH];
	unsigned depth = 0;
	unw_cursor_t c;
	if (unw_init_local2(&c, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) == 0) {
		unw_word_t v;
		while (depth < DEPTH && unw_get_reg(&c, UNW_REG_IP, &v) == 0) {
			ip[depth++] = (uintptr_t)v;
			if (unw_step(&c) <= 0)
				break;
		}
	}
	struct site *s = site_of(ip, depth, path, off);
	if (!s) {
		__atomic_fetch_add(&lost, 1, __ATOMIC_RELAXED);
		return 1;
	}
	__atomic_fetch_add(&s->count, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->total_ns, ns, __ATOMIC_RELAXED);
	store_max(&s->max_ns, ns);
	store_min(&s->off_min, off);
	store_max(&s->off_max, off);
	return 1;
}

/* The sites with the most waiting, most first, into top[max]; how many. */
static unsigned top_sites(const struct site **top, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < SITES; i++) {
		const struct site *s = &sites[i];
		if (__atomic_load_n(&s->key, __ATOMIC_ACQUIRE) < 2)
			continue;
		unsigned at = n < max ? n++ : max;
		while (at > 0 && top[at - 1]->total_ns < s->total_ns) {
			if (at < max)
				top[at] = top[at - 1];
			at--;
		}
		if (at < max)
			top[at] = s;
	}
	return n;
}

/* Frame d of site s, named (symbols.h) into out[96], from a cache: the
 * live view names the same few stacks every second. */
static const char *frame_name(const struct site *s, unsigned d, char *out)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct { uintptr_t key; char name[96]; } cache[256];
	uintptr_t key = s->ip[d] << 1 | (d > 0);  /* a return address names its call */
	unsigned slot = (unsigned)((key * 0x9e3779b97f4a7c15ULL) >> 56);
	pthread_mutex_lock(&lock);
	if (cache[slot].key != key) {
		ps_symbol_name(s->ip[d], d > 0, cache[slot].name, sizeof cache[slot].name);
		cache[slot].key = key;
	}
	memcpy(out, cache[slot].name, sizeof cache[slot].name);
	pthread_mutex_unlock(&lock);
	return out;
}

unsigned ps_stall_live(struct pageshim_live_site *out, unsigned max)
{
	const struct site *top[PAGESHIM_LIVE_SITES];
	unsigned n = top_sites(top, max < PAGESHIM_LIVE_SITES ? max : PAGESHIM_LIVE_SITES);
	for (unsigned i = 0; i < n; i++) {
		const struct site *s = top[i];
		struct pageshim_live_site *l = &out[i];
		memset(l, 0, sizeof *l);
		l->count = s->count;
		l->total_us = s->total_ns / 1000;
		l->max_us = s->max_ns / 1000;
		l->offset_min = s->off_min;
		l->offset_max = s->off_max;
		snprintf(l->file, sizeof l->file, "%s", s->file);
		for (unsigned d = 0; d < s->depth && d < PAGESHIM_LIVE_FRAMES; d++)
			frame_name(s, d, l->stack[d]);
	}
	return n;
}

size_t ps_stall_json(char *buf, size_t len)
{
	const struct site *top[JSON_SITES];
	unsigned n = top_sites(top, JSON_SITES);
	size_t o = 0;
#define OUT(...) (o += (size_t)snprintf(buf + o, o < len ? len - o : 0, __VA_ARGS__))
	OUT(",\n  \"stall_sites_lost\": %llu,\n  \"stall_sites\": [",
	    (unsigned long long)__atomic_load_n(&lost, __ATOMIC_RELAXED));
	for (unsigned i = 0; i < n && o < len; i++) {
		const struct site *s = top[i];
		OUT("%s\n    {\"count\": %llu, \"total_us\": %llu, \"max_us\": %llu, \"file\": \"", i ? "," : "",
		    (unsigned long long)s->count, (unsigned long long)(s->total_ns / 1000),
		    (unsigned long long)(s->max_ns / 1000));
		if (o < len)
			ps_json_escaped(buf, len, &o, s->file);
		OUT("\", \"offset_min\": %llu, \"offset_max\": %llu, \"stack\": [",
		    (unsigned long long)s->off_min, (unsigned long long)s->off_max);
		for (unsigned d = 0; d < s->depth && o < len; d++) {
			char name[96];
			OUT("%s\"", d ? ", " : "");
			if (o < len)
				ps_json_escaped(buf, len, &o, frame_name(s, d, name));
			OUT("\"");
		}
		OUT("]}");
	}
	OUT("%s]", n ? "\n  " : "");
#undef OUT
	return o < len ? o : 0;
}
