/* options.h - pageshim's settings: one table, parsed once from the environment.
 *
 * The library reads PAGESHIM_* from `environ` in its constructor; the
 * `pageshim` command uses the same table to validate its flags and to print
 * help, so the two can never disagree on a name, a form or a default. */
#ifndef PAGESHIM_OPTIONS_H
#define PAGESHIM_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ps_log_level { PS_LOG_QUIET, PS_LOG_WARN, PS_LOG_DEBUG };
enum ps_on_corrupt { PS_CORRUPT_WARN, PS_CORRUPT_SIGBUS };
enum ps_writeback_mode { PS_WB_KERNEL, PS_WB_MSYNC };
enum ps_sigbus_report { PS_REPORT_MANAGED, PS_REPORT_ALL };

#define PS_GLOBS_MAX 1024   /* bytes of PAGESHIM_INCLUDE / PAGESHIM_EXCLUDE */
#define PS_PATH_MAX 4096

/* PAGESHIM_INJECT: faults injected into pageshim's reads of files (inject.h). */
enum ps_inject_kind { PS_INJECT_EIO, PS_INJECT_SHORT, PS_INJECT_DELAY, PS_INJECT_CORRUPT };
#define PS_INJECT_RULES 8
struct ps_inject_rule {
	enum ps_inject_kind kind;
	unsigned delay_ms;          /* PS_INJECT_DELAY */
	char glob[256];             /* the file's path matches it ("" = any file) */
	uint64_t from, to;          /* the read overlaps file bytes [from, to) */
	double prob;                /* fires with this probability, */
	unsigned every;             /* or on every Nth read that matches (0: prob) */
	uint64_t seed;
};

struct ps_options {
	uint64_t cache_size;        /* bytes */
	uint64_t min_size;          /* mappings shorter than this pass through */
	unsigned handlers;          /* fault-service threads */
	unsigned readahead;         /* largest read-around window, pages */
	unsigned slow_us;           /* a slower fault is a stall site (0: none) */
	unsigned stack_sample;      /* take one fault's stack in this many (0: none) */
	int disable;
	int test_no_uffd;           /* behave as if userfaultfd were refused */
	enum ps_log_level log;
	enum ps_on_corrupt on_corrupt;
	enum ps_writeback_mode writeback;
	enum ps_sigbus_report sigbus_report;
	char spill_dir[PS_PATH_MAX];   /* where PS_WB_MSYNC spills written pages */
	char include[PS_GLOBS_MAX]; /* ':'-separated fnmatch globs, "" = all */
	char exclude[PS_GLOBS_MAX];
	char stats_file[PS_PATH_MAX];
	char log_file[PS_PATH_MAX];
	char trace_file[PS_PATH_MAX];
	struct ps_inject_rule inject[PS_INJECT_RULES];
	unsigned ninject;
};

/* Fill *o from an environment array (NULL-terminated "NAME=value" strings).
 * `ram` is the machine's memory in bytes (for percentages and the default
 * budget), `limit` the memory cgroup's limit or 0. Returns 0, or -EINVAL
 * with one line in err naming the variable and the accepted form; *o then
 * holds the defaults. Allocates nothing. */
int ps_options_parse(struct ps_options *o, char *const *envp,
		     uint64_t ram, uint64_t limit, char *err, size_t errlen);

/* Check one variable's value as ps_options_parse would (for the launcher).
 * Returns 0, -EINVAL (message in err) or -ENOENT for an unknown name. */
int ps_option_check(const char *name, const char *value, char *err, size_t errlen);

/* "64M", "1.5G", "4096", "25%" (when ram != 0). Returns 0 or -EINVAL. */
int ps_parse_size(const char *s, uint64_t ram, uint64_t *out);

/* Print every variable with its form, default and meaning. */
void ps_options_help(FILE *f);

/* `path` with every "%p" replaced by the process id, into out (outlen >
 * 0). 0, or -ENAMETOOLONG when it does not fit: out is then cut and must
 * not be opened (a shorter name may be another file). */
int ps_path_expand(const char *path, char *out, size_t outlen);

int ps_options_path_selected(const struct ps_options *o, const char *path);

/* The default budget: a quarter of RAM, and no more than half of a memory
 * cgroup limit when one is set. */
uint64_t ps_default_cache_size(uint64_t ram, uint64_t limit);

#endif
