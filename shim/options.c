/* options.c - the PAGESHIM_* table and its parser (see options.h). */
#include "options.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_SIZE, K_UINT, K_BOOL, K_LOG, K_CORRUPT, K_WRITEBACK, K_GLOBS, K_PATH };

struct option_def {
	const char *name;
	enum kind kind;
	const char *def;        /* default as text; NULL = computed */
	const char *form;       /* accepted form, for messages */
	const char *help;
	size_t off;             /* field in struct ps_options */
	uint64_t min, max;      /* K_UINT bounds */
};

#define F(field) offsetof(struct ps_options, field)
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
	{ "PAGESHIM_INCLUDE", K_GLOBS, "", "':'-separated path globs",
	  "manage only files whose path matches one glob (empty: all)", F(include), 0, 0 },
	{ "PAGESHIM_EXCLUDE", K_GLOBS, "", "':'-separated path globs",
	  "never manage files whose path matches one glob", F(exclude), 0, 0 },
	{ "PAGESHIM_STATS_FILE", K_PATH, "", "a path; %p becomes the process id",
	  "write stats as JSON here at exit", F(stats_file), 0, 0 },
	{ "PAGESHIM_DISABLE", K_BOOL, "0", "1/0, yes/no, on/off, true/false",
	  "manage nothing (every mapping goes to the kernel)", F(disable), 0, 0 },
	{ "PAGESHIM_LOG", K_LOG, "warn", "quiet, warn or debug",
	  "what pageshim writes to stderr", F(log), 0, 0 },
	{ "PAGESHIM_ON_CORRUPT", K_CORRUPT, "warn", "warn or sigbus",
	  "a page re-read with a different checksum: warn and use the new bytes, or raise SIGBUS",
	  F(on_corrupt), 0, 0 },
	{ "PAGESHIM_WRITEBACK", K_WRITEBACK, "kernel", "kernel or msync",
	  "when written pages of shared mappings reach the file: kernel = as the kernel (also when "
	  "evicted, and within 30 s); msync = only at msync, munmap and exit, pages over the budget "
	  "going to a scratch file meanwhile", F(writeback), 0, 0 },
	{ "PAGESHIM_SPILL_DIR", K_PATH, "/var/tmp", "a directory",
	  "where PAGESHIM_WRITEBACK=msync keeps written pages over the budget (an unnamed file)",
	  F(spill_dir), 0, 0 },
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

static int parse_one(const struct option_def *d, const char *v, struct ps_options *o, uint64_t ram)
{
	char *field = (char *)o + d->off;
	switch (d->kind) {
	case K_SIZE:
		return ps_parse_size(v, d->off == offsetof(struct ps_options, cache_size) ? ram : 0,
				     (uint64_t *)field);
	case K_UINT: {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(v, &end, 10);
		if (errno || end == v || *end || *v == '-' || n < d->min || n > d->max)
			return -EINVAL;
		*(unsigned *)field = (unsigned)n;
		return 0;
	}
	case K_BOOL:
		return parse_bool(v, (int *)field);
	case K_LOG:
		if (!strcmp(v, "quiet")) *(enum ps_log_level *)field = PS_LOG_QUIET;
		else if (!strcmp(v, "warn")) *(enum ps_log_level *)field = PS_LOG_WARN;
		else if (!strcmp(v, "debug")) *(enum ps_log_level *)field = PS_LOG_DEBUG;
		else return -EINVAL;
		return 0;
	case K_CORRUPT:
		if (!strcmp(v, "warn")) *(enum ps_on_corrupt *)field = PS_CORRUPT_WARN;
		else if (!strcmp(v, "sigbus")) *(enum ps_on_corrupt *)field = PS_CORRUPT_SIGBUS;
		else return -EINVAL;
		return 0;
	case K_WRITEBACK:
		if (!strcmp(v, "kernel")) *(enum ps_writeback_mode *)field = PS_WB_KERNEL;
		else if (!strcmp(v, "msync")) *(enum ps_writeback_mode *)field = PS_WB_MSYNC;
		else return -EINVAL;
		return 0;
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
	}
	return -EINVAL;
}

static void say_bad(const struct option_def *d, const char *v, char *err, size_t errlen)
{
	if (err && errlen)
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
