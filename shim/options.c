/* options.c - the PAGESHIM_* table and its parser (see options.h). */
#include "options.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum kind { K_SIZE, K_UINT, K_ONE_IN, K_BOOL, K_CHOICE, K_GLOBS, K_PATH, K_INJECT };

struct option_def {
	const char *name;
	enum kind kind;
	const char *def;        /* default as text; NULL = computed */
	const char *form;       /* accepted form, for messages */
	const char *help;
	size_t off;             /* field in struct ps_options */
	uint64_t min, max;      /* K_UINT, K_ONE_IN bounds */
	const char *const *choices;     /* K_CHOICE: the names of an enum's values, in order */
};

static const char *const log_names[] = { "quiet", "warn", "debug", NULL };
static const char *const corrupt_names[] = { "warn", "sigbus", NULL };
static const char *const writeback_names[] = { "kernel", "msync", NULL };
static const char *const report_names[] = { "managed", "all", NULL };

#define F(field) offsetof(struct ps_options, field)
#define PS_STR_(x) #x
#define PS_STR(x) PS_STR_(x)
static const struct option_def defs[] = {
	{ "PAGESHIM_CACHE_SIZE", K_SIZE, NULL, "bytes with K/M/G suffix, or N% of RAM",
	  "memory budget for managed pages (default: 25% of RAM, at most half the memory cgroup limit)",
	  F(cache_size), 0, 0 },
	{ "PAGESHIM_MIN_SIZE", K_SIZE, "1M", "bytes with K/M/G suffix",
	  "mappings shorter than this pass through to the kernel, as lock and shared-memory "
	  "files must (LMDB's lock.mdb, SQLite's -shm)", F(min_size), 0, 0 },
	{ "PAGESHIM_HANDLERS", K_UINT, "8", "an integer from 1 to 64",
	  "fault-service threads, and as many read-ahead threads (each has one read in flight)", F(handlers), 1, 64 },
	{ "PAGESHIM_READAHEAD", K_UINT, "64", "an integer from 1 to 4096 (pages)",
	  "largest read-around window, in 4 KiB pages", F(readahead), 1, 4096 },
	{ "PAGESHIM_SLOW_US", K_UINT, "5000", "an integer from 0 to 60000000 (microseconds)",
	  "a fault served slower than this has its thread's stack taken, as a stall site (0: none)",
	  F(slow_us), 0, 60000000 },
	{ "PAGESHIM_STACK_SAMPLE", K_ONE_IN, "1/1000", "1/N with N from 1 to 1000000000, or 0",
	  "also take the stack of one fault in N, slow or not (0: none)", F(stack_sample), 1, 1000000000 },
	{ "PAGESHIM_INCLUDE", K_GLOBS, "", "':'-separated path globs",
	  "manage only files whose path matches one glob (empty: all)", F(include), 0, 0 },
	{ "PAGESHIM_EXCLUDE", K_GLOBS, "", "':'-separated path globs",
	  "never manage files whose path matches one glob", F(exclude), 0, 0 },
	{ "PAGESHIM_STATS_FILE", K_PATH, "", "a path; %p becomes the process id",
	  "write stats as JSON here at exit", F(stats_file), 0, 0 },
	{ "PAGESHIM_DISABLE", K_BOOL, "0", "1/0, yes/no, on/off, true/false",
	  "manage nothing (every mapping goes to the kernel)", F(disable), 0, 0 },
	{ "PAGESHIM_LOG", K_CHOICE, "warn", "quiet, warn or debug",
	  "what pageshim writes to stderr", F(log), 0, 0, log_names },
	{ "PAGESHIM_LOG_FILE", K_PATH, "", "a path; %p becomes the process id",
	  "pageshim's messages (SIGBUS reports among them) also go to this file, appended",
	  F(log_file), 0, 0 },
	{ "PAGESHIM_TRACE", K_PATH, "", "a path; %p becomes the process id",
	  "record every fault served here, for pageshim report (40 bytes a fault; created at "
	  "the first fault, truncated)", F(trace_file), 0, 0 },
	{ "PAGESHIM_ON_CORRUPT", K_CHOICE, "warn", "warn or sigbus",
	  "a page re-read with a different checksum: warn and use the new bytes, or raise SIGBUS",
	  F(on_corrupt), 0, 0, corrupt_names },
	{ "PAGESHIM_SIGBUS_REPORT", K_CHOICE, "managed", "managed or all",
	  "which SIGBUS get a report first: those pageshim raises, or also those of mappings it "
	  "left to the kernel (a file truncated under a kernel mapping)", F(sigbus_report), 0, 0, report_names },
	{ "PAGESHIM_WRITEBACK", K_CHOICE, "kernel", "kernel or msync",
	  "when written pages of shared mappings reach the file: kernel = as the kernel (also when "
	  "evicted, and within 30 s); msync = only at msync, munmap and exit, pages over the budget "
	  "going to a scratch file meanwhile", F(writeback), 0, 0, writeback_names },
	{ "PAGESHIM_SPILL_DIR", K_PATH, "/var/tmp", "a directory",
	  "where PAGESHIM_WRITEBACK=msync keeps written pages over the budget (an unnamed file)",
	  F(spill_dir), 0, 0 },
	{ "PAGESHIM_INJECT", K_INJECT, "",
	  "';'-separated rules: eio|short|delay:MS|corrupt, then ',file=GLOB', ',offset=A-B', "
	  "',prob=P' or ',every=N', ',seed=S'",
	  "faults injected into pageshim's reads of files, for testing a program's error paths and "
	  "pageshim's: eio (the read fails, EIO), short (it returns half the pages asked), delay:MS, "
	  "corrupt (one byte of each page flipped)", F(inject), 0, 0 },
	{ "PAGESHIM_TEST_NO_UFFD", K_BOOL, "0", "1/0, yes/no, on/off, true/false",
	  "for tests: act as if userfaultfd were refused (everything passes through)",
	  F(test_no_uffd), 0, 0 },
};
#undef F
#define NDEFS (sizeof defs / sizeof defs[0])

int ps_parse_size(const char *s, uint64_t ram, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-')
		return -EINVAL;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	double mult = 1;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': mult = 1024.0; end++; break;
	case 'm': case 'M': mult = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
	case 't': case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
	case '%':
		if (!ram || v > 100)
			return -EINVAL;
		mult = ram / 100.0;
		end++;
		break;
	default: return -EINVAL;
	}
	if ((*end == 'b' || *end == 'B') && mult > 1 && end[-1] != '%')
		end++;          /* accept "64MB" and "64MiB"-less "64M" alike */
	if (*end)
		return -EINVAL;
	double bytes = v * mult;
	if (bytes > 9.0e18)
		return -EINVAL;
	*out = (uint64_t)bytes;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	static const char *yes[] = { "1", "yes", "on", "true" }, *no[] = { "0", "no", "off", "false" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) { *out = 1; return 0; }
		if (!strcasecmp(s, no[i])) { *out = 0; return 0; }
	}
	return -EINVAL;
}

/* One field "key=value" of an injection rule into r. */
static int parse_inject_field(const char *f, size_t n, struct ps_inject_rule *r)
{
	char v[256];
	const char *eq = memchr(f, '=', n);
	if (!eq || (size_t)(f + n - eq - 1) >= sizeof v)
		return -EINVAL;
	size_t k = (size_t)(eq - f), vn = (size_t)(f + n - eq - 1);
	memcpy(v, eq + 1, vn);
	v[vn] = 0;
	char *end;
	errno = 0;
	if (k == 4 && !strncmp(f, "file", 4)) {
		strcpy(r->glob, v);
		return 0;
	}
	if (k == 6 && !strncmp(f, "offset", 6)) {
		char *dash = strchr(v, '-');
		if (!dash)
			return -EINVAL;
		*dash = 0;
		if (ps_parse_size(v, 0, &r->from))
			return -EINVAL;
		if (!dash[1])
			r->to = UINT64_MAX;
		else if (ps_parse_size(dash + 1, 0, &r->to) || r->to <= r->from)
			return -EINVAL;
		return 0;
	}
	if (k == 4 && !strncmp(f, "prob", 4)) {
		r->prob = strtod(v, &end);
		return errno || end == v || *end || !(r->prob > 0 && r->prob <= 1) ? -EINVAL : 0;
	}
	if (k == 5 && !strncmp(f, "every", 5)) {
		unsigned long long e = strtoull(v, &end, 10);
		if (errno || end == v || *end || *v == '-' || e < 1 || e > UINT32_MAX)
			return -EINVAL;
		r->every = (unsigned)e;
		return 0;
	}
	if (k == 4 && !strncmp(f, "seed", 4)) {
		r->seed = strtoull(v, &end, 10);
		return errno || end == v || *end || *v == '-' ? -EINVAL : 0;
	}
	return -EINVAL;
}

/* One rule "kind[,key=value]..." of PAGESHIM_INJECT. */
static int parse_inject_rule(const char *s, size_t n, struct ps_inject_rule *r)
{
	memset(r, 0, sizeof *r);
	r->to = UINT64_MAX;
	r->prob = 1;
	const char *comma = memchr(s, ',', n);
	size_t kn = comma ? (size_t)(comma - s) : n;
	if (kn == 3 && !strncmp(s, "eio", 3)) {
		r->kind = PS_INJECT_EIO;
	} else if (kn == 5 && !strncmp(s, "short", 5)) {
		r->kind = PS_INJECT_SHORT;
	} else if (kn == 7 && !strncmp(s, "corrupt", 7)) {
		r->kind = PS_INJECT_CORRUPT;
	} else if (kn > 6 && !strncmp(s, "delay:", 6)) {
		char ms[16], *end;
		if (kn - 6 >= sizeof ms)
			return -EINVAL;
		memcpy(ms, s + 6, kn - 6);
		ms[kn - 6] = 0;
		errno = 0;
		unsigned long v = strtoul(ms, &end, 10);
		if (errno || end == ms || *end || *ms == '-' || v < 1 || v > 60000)
			return -EINVAL;
		r->kind = PS_INJECT_DELAY;
		r->delay_ms = (unsigned)v;
	} else {
		return -EINVAL;
	}
	int prob_set = 0;
	for (const char *f = comma; f && f < s + n;) {
		f++;
		const char *next = memchr(f, ',', (size_t)(s + n - f));
		size_t fn = next ? (size_t)(next - f) : (size_t)(s + n - f);
		prob_set |= fn > 5 && !strncmp(f, "prob=", 5);
		if (parse_inject_field(f, fn, r))
			return -EINVAL;
		f = next;
	}
	return prob_set && r->every ? -EINVAL : 0;     /* one trigger or the other */
}

/* PAGESHIM_INJECT: up to PS_INJECT_RULES rules, ';'-separated. On error,
 * the number of the rule at fault (from 1) in *bad. */
static int parse_inject(const char *v, struct ps_options *o, unsigned *bad)
{
	o->ninject = 0;
	for (const char *p = v; *p;) {
		const char *semi = strchr(p, ';');
		size_t n = semi ? (size_t)(semi - p) : strlen(p);
		while (n && *p == ' ')
			p++, n--;
		if (n) {
			*bad = o->ninject + 1;
			if (o->ninject == PS_INJECT_RULES || parse_inject_rule(p, n, &o->inject[o->ninject]))
				return -EINVAL;
			o->ninject++;
		}
		p += n + (semi != NULL);
	}
	return 0;
}

/* A decimal integer within d's bounds. */
static int parse_uint(const char *v, const struct option_def *d, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || n < d->min || n > d->max)
		return -EINVAL;
	*out = (unsigned)n;
	return 0;
}

static int parse_one(const struct option_def *d, const char *v, struct ps_options *o, uint64_t ram)
{
	char *field = (char *)o + d->off;
	switch (d->kind) {
	case K_SIZE:
		return ps_parse_size(v, d->off == offsetof(struct ps_options, cache_size) ? ram : 0,
				     (uint64_t *)field);
	case K_UINT:
		return parse_uint(v, d, (unsigned *)field);
	case K_ONE_IN:          /* "0", or "1/N" */
		if (!strcmp(v, "0")) {
			*(unsigned *)field = 0;
			return 0;
		}
		return strncmp(v, "1/", 2) ? -EINVAL : parse_uint(v + 2, d, (unsigned *)field);
	case K_BOOL:
		return parse_bool(v, (int *)field);
	case K_CHOICE:
		for (int i = 0; d->choices[i]; i++)
			if (!strcmp(v, d->choices[i])) {
				*(int *)field = i;      /* the enum's value */
				return 0;
			}
		return -EINVAL;
	case K_GLOBS:
		if (strlen(v) >= PS_GLOBS_MAX)
			return -EINVAL;
		strcpy(field, v);
		return 0;
	case K_PATH:
		if (strlen(v) >= PS_PATH_MAX)
			return -EINVAL;
		strcpy(field, v);
		return 0;
	case K_INJECT: {
		unsigned bad = 0;
		return parse_inject(v, o, &bad);
	}
	}
	return -EINVAL;
}

/* The rule of PAGESHIM_INJECT at fault, as written: rule number `k` of v. */
static void bad_rule(const char *v, char *out, size_t outlen)
{
	struct ps_options scratch;
	unsigned k = 0;
	parse_inject(v, &scratch, &k);
	const char *p = v;
	for (unsigned i = 1; i < k && strchr(p, ';'); i++)
		p = strchr(p, ';') + 1;
	while (*p == ' ')
		p++;
	size_t n = strchr(p, ';') ? (size_t)(strchr(p, ';') - p) : strlen(p);
	snprintf(out, outlen, "rule %u \"%.*s\"%s", k, (int)(n < 64 ? n : 64), p,
		 k > PS_INJECT_RULES ? " (at most " PS_STR(PS_INJECT_RULES) " rules)" : "");
}

static void say_bad(const struct option_def *d, const char *v, char *err, size_t errlen)
{
	if (!err || !errlen)
		return;
	if (d->kind == K_INJECT) {
		char rule[128];
		bad_rule(v, rule, sizeof rule);
		snprintf(err, errlen, "%s: %s is not valid: expected %s", d->name, rule, d->form);
		return;
	}
	snprintf(err, errlen, "%s=\"%.64s\" is not valid: expected %s", d->name, v, d->form);
}

uint64_t ps_default_cache_size(uint64_t ram, uint64_t limit)
{
	uint64_t size = ram / 4;
	if (limit && limit < ram && size > limit / 2)
		size = limit / 2;
	return size;
}

static void set_defaults(struct ps_options *o, uint64_t ram, uint64_t limit)
{
	memset(o, 0, sizeof *o);
	for (size_t i = 0; i < NDEFS; i++)
		if (defs[i].def)
			parse_one(&defs[i], defs[i].def, o, ram);
	o->cache_size = ps_default_cache_size(ram, limit);
}

int ps_options_parse(struct ps_options *o, char *const *envp,
		     uint64_t ram, uint64_t limit, char *err, size_t errlen)
{
	set_defaults(o, ram, limit);
	for (char *const *e = envp; e && *e; e++) {
		if (strncmp(*e, "PAGESHIM_", 9))
			continue;
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		size_t n = (size_t)(eq - *e);
		for (size_t i = 0; i < NDEFS; i++) {
			if (strlen(defs[i].name) != n || strncmp(defs[i].name, *e, n))
				continue;
			if (parse_one(&defs[i], eq + 1, o, ram)) {
				say_bad(&defs[i], eq + 1, err, errlen);
				set_defaults(o, ram, limit);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int ps_option_check(const char *name, const char *value, char *err, size_t errlen)
{
	struct ps_options scratch;
	for (size_t i = 0; i < NDEFS; i++) {
		if (strcmp(defs[i].name, name))
			continue;
		if (parse_one(&defs[i], value, &scratch, 1ULL << 40)) {
			say_bad(&defs[i], value, err, errlen);
			return -EINVAL;
		}
		return 0;
	}
	return -ENOENT;
}

void ps_options_help(FILE *f)
{
	for (size_t i = 0; i < NDEFS; i++)
		fprintf(f, "  %-22s %s\n  %-22s form: %s; default: %s\n", defs[i].name, defs[i].help, "",
			defs[i].form, defs[i].def ? (*defs[i].def ? defs[i].def : "(empty)") : "computed");
}

static int globs_match(const char *globs, const char *path)
{
	char one[PS_GLOBS_MAX];
	const char *p = globs;
	while (*p) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		memcpy(one, p, n);
		one[n] = 0;
		if (n && fnmatch(one, path, 0) == 0)
			return 1;
		p += n + (colon != NULL);
	}
	return 0;
}

int ps_options_path_selected(const struct ps_options *o, const char *path)
{
	if (o->include[0] && !globs_match(o->include, path))
		return 0;
	return !(o->exclude[0] && globs_match(o->exclude, path));
}

int ps_path_expand(const char *path, char *out, size_t outlen)
{
	size_t o = 0;
	const char *p = path;
	for (; *p && o + 1 < outlen; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			int n = snprintf(out + o, outlen - o, "%d", (int)getpid());
			if (n < 0 || o + (size_t)n >= outlen) {
				out[o] = 0;
				return -ENAMETOOLONG;
			}
			o += (size_t)n;
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = 0;
	return *p ? -ENAMETOOLONG : 0;
}
