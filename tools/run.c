/* run.c - `pageshim run`: run a command with libpageshim.so preloaded.
 *
 * Each flag is one PAGESHIM_* variable, checked by the library's own
 * parser (ps_option_check) and exported; then LD_PRELOAD gets the library
 * first and the command is exec'd in place, so its pid, exit status and
 * signals are the command's own. */
#include "cli.h"
#include "options.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* A flag and the variable it sets. A repeatable flag's values are joined
 * with ':' (the variable's separator); otherwise the last one wins. */
struct run_flag {
	const char *flag, *arg, *var;
	int repeat;
};

static const struct run_flag flags[] = {
	{ "cache", "SIZE", "PAGESHIM_CACHE_SIZE", 0 },
	{ "stats", "FILE", "PAGESHIM_STATS_FILE", 0 },
	{ "include", "GLOB", "PAGESHIM_INCLUDE", 1 },
	{ "exclude", "GLOB", "PAGESHIM_EXCLUDE", 1 },
	{ "min-size", "SIZE", "PAGESHIM_MIN_SIZE", 0 },
	{ "handlers", "N", "PAGESHIM_HANDLERS", 0 },
	{ "readahead", "PAGES", "PAGESHIM_READAHEAD", 0 },
	{ "log", "LEVEL", "PAGESHIM_LOG", 0 },
	{ "log-file", "FILE", "PAGESHIM_LOG_FILE", 0 },
	{ "on-corrupt", "warn|sigbus", "PAGESHIM_ON_CORRUPT", 0 },
	{ "sigbus-report", "managed|all", "PAGESHIM_SIGBUS_REPORT", 0 },
	{ "slow-us", "US", "PAGESHIM_SLOW_US", 0 },
	{ "stack-sample", "1/N", "PAGESHIM_STACK_SAMPLE", 0 },
	{ "inject", "RULES", "PAGESHIM_INJECT", 0 },
	{ "trace", "FILE", "PAGESHIM_TRACE", 0 },
};
#define NFLAGS (sizeof flags / sizeof flags[0])
#define FLAG_VAL0 256   /* getopt `val` of flags[0]; above every character */

static void run_help(FILE *f)
{
	fprintf(f, "usage: %s\n", run_cmd.synopsis);
	fprintf(f, "Runs CMD with libpageshim.so first in LD_PRELOAD (entries already there are\n"
		   "kept after it). Each flag sets one variable and overrides the environment;\n"
		   "--include and --exclude may be repeated (their globs are joined with ':').\n");
	for (size_t i = 0; i < NFLAGS; i++)
		fprintf(f, "  --%-10s %-12s sets %s\n", flags[i].flag, flags[i].arg, flags[i].var);
	fprintf(f, "  --%-10s %-12s this text\n", "help", "");
	fprintf(f, "The library is found next to this executable, or at $PAGESHIM_LIB.\n"
		   "Exit status: CMD's own; 2 for a bad flag or a missing library; 126 when CMD\n"
		   "cannot be executed, 127 when it is not found.\n\n"
		   "Variables read by libpageshim.so (flag values are checked against these forms):\n");
	ps_options_help(f);
	fprintf(f, "  %-22s where libpageshim.so is (default: beside the pageshim executable)\n",
		"PAGESHIM_LIB");
}

/* Record one occurrence of flag f with value v in *slot. */
static void take_flag(const struct run_flag *f, const char *v, char **slot)
{
	char *joined;
	if (f->repeat && *slot) {
		if (asprintf(&joined, "%s:%s", *slot, v) < 0)
			cli_die(&run_cmd, EXIT_RUN_FAILED, "out of memory");
	} else if (!(joined = strdup(v))) {
		cli_die(&run_cmd, EXIT_RUN_FAILED, "out of memory");
	}
	free(*slot);
	*slot = joined;
}

/* Check each given flag's value with the library's parser and export it. */
static void export_flags(char *const values[NFLAGS])
{
	char err[512];
	for (size_t i = 0; i < NFLAGS; i++) {
		if (!values[i])
			continue;
		if (ps_option_check(flags[i].var, values[i], err, sizeof err))
			cli_die(&run_cmd, EXIT_USAGE, "--%s: %s", flags[i].flag, err);
		if (setenv(flags[i].var, values[i], 1))
			cli_die(&run_cmd, EXIT_RUN_FAILED, "setenv %s: %s", flags[i].var,
				strerror(errno));
	}
}

/* Refuse a PAGESHIM_* variable inherited from the environment that the
 * library would reject at start-up: better here, before CMD runs. */
static void check_environment(void)
{
	struct ps_options o;
	char err[512];
	uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	if (ps_options_parse(&o, environ, ram, 0, err, sizeof err))
		cli_die(&run_cmd, EXIT_USAGE, "in the environment: %s", err);
}

/* The library's absolute path: $PAGESHIM_LIB, or libpageshim.so in the
 * directory of this executable. Exits EXIT_USAGE when it is not there or
 * when its path cannot be written in LD_PRELOAD. */
static char *find_library(void)
{
	char want[PATH_MAX + 32];
	const char *env = getenv("PAGESHIM_LIB");
	if (env && *env) {
		snprintf(want, sizeof want, "%s", env);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n < 0)
			cli_die(&run_cmd, EXIT_USAGE, "readlink /proc/self/exe: %s (set PAGESHIM_LIB)",
				strerror(errno));
		self[n] = 0;
		snprintf(want, sizeof want, "%s/libpageshim.so", dirname(self));
	}
	char *lib = realpath(want, NULL);
	if (!lib || access(lib, R_OK))
		cli_die(&run_cmd, EXIT_USAGE, "cannot use the library %s: %s (build it with `make`, "
			"or set PAGESHIM_LIB to its path)", want, strerror(errno));
	if (strpbrk(lib, " :"))
		cli_die(&run_cmd, EXIT_USAGE, "the library path \"%s\" has a space or ':', "
			"which LD_PRELOAD cannot express", lib);
	return lib;
}

/* LD_PRELOAD = lib, then whatever was there (ld.so splits on spaces and ':'). */
static void preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *value;
	if (asprintf(&value, "%s%s%s", lib, old && *old ? " " : "", old ? old : "") < 0 ||
	    setenv("LD_PRELOAD", value, 1))
		cli_die(&run_cmd, EXIT_RUN_FAILED, "cannot set LD_PRELOAD: %s", strerror(errno));
	free(value);
}

/* Exec cmd[0] through PATH; only returns by exiting as a shell would. */
static _Noreturn void exec_command(char **cmd)
{
	execvp(cmd[0], cmd);
	int e = errno;
	if (e == ENOENT)
		cli_die(&run_cmd, EXIT_NOT_FOUND, "%s: %s", cmd[0],
			strchr(cmd[0], '/') ? strerror(e) : "command not found");
	cli_die(&run_cmd, EXIT_NOT_EXECUTABLE, "%s: %s", cmd[0], strerror(e));
}

static int run_main(int argc, char **argv)
{
	struct option opts[NFLAGS + 2];
	char *values[NFLAGS] = { 0 };
	for (size_t i = 0; i < NFLAGS; i++)
		opts[i] = (struct option){ flags[i].flag, required_argument, NULL,
					   FLAG_VAL0 + (int)i };
	opts[NFLAGS] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[NFLAGS + 1] = (struct option){ 0 };

	int ch;
	optind = 1;
	while ((ch = cli_getopt(&run_cmd, argc, argv, opts)) != -1)
		take_flag(&flags[ch - FLAG_VAL0], optarg, &values[ch - FLAG_VAL0]);
	if (optind >= argc)
		cli_usage_error(&run_cmd, "no command to run");

	export_flags(values);
	check_environment();
	preload(find_library());
	exec_command(argv + optind);
}

const struct cli_cmd run_cmd = {
	.name = "run",
	.synopsis = "pageshim run [--cache SIZE] [--stats FILE] [--include GLOB] [--exclude GLOB] "
		    "[--min-size SIZE] [--handlers N] [--readahead PAGES] [--log LEVEL] [--log-file FILE] "
		    "[--on-corrupt warn|sigbus] [--sigbus-report managed|all] [--slow-us US] [--stack-sample 1/N] "
		    "[--inject RULES] [--trace FILE] [--] CMD [ARGS]",
	.summary = "run CMD with its file mappings served by libpageshim.so",
	.main = run_main,
	.help = run_help,
};
