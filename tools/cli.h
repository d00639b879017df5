/* cli.h - what the `pageshim` command's subcommands share: their entry
 * points, and one way to read flags and to fail.
 *
 * Exit codes follow the shell: 0 success, 1 a run that failed (an I/O or a
 * verification error), 2 a usage error (unknown flag, malformed value, a
 * missing library), 126/127 a command that cannot be executed / found. */
#ifndef PAGESHIM_CLI_H
#define PAGESHIM_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#define PAGESHIM_VERSION "0.1.0"

#define EXIT_RUN_FAILED 1
#define EXIT_USAGE 2
#define EXIT_NOT_EXECUTABLE 126
#define EXIT_NOT_FOUND 127

/* A subcommand: its name, one synopsis line (printed after "usage: ") and
 * its entry point. main(argc, argv) receives argv[0] == the subcommand's
 * name; help(f) prints every flag. */
struct cli_cmd {
	const char *name;
	const char *synopsis;
	const char *summary;
	int (*main)(int argc, char **argv);
	void (*help)(FILE *f);
};

extern const struct cli_cmd run_cmd, bench_cmd, ab_cmd, stat_cmd, top_cmd, report_cmd;

/* Print "pageshim NAME: message" on stderr and exit with `code`. */
_Noreturn void cli_die(const struct cli_cmd *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The same, followed by the usage line; exits EXIT_USAGE. */
_Noreturn void cli_usage_error(const struct cli_cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* getopt_long over long options only, stopping at the first operand or "--".
 * Returns the option's `val`, or -1 when the flags end (optind then indexes
 * the first operand). An unknown flag or a missing value exits EXIT_USAGE;
 * "--help" (which every subcommand accepts, with val 'h') prints c->help
 * and exits 0. Set optind = 1 before the first call. */
int cli_getopt(const struct cli_cmd *c, int argc, char **argv, const struct option *opts);

/* Exit EXIT_USAGE with the one message for a malformed value:
 * `pageshim NAME: --FLAG "VALUE": expected <printf(fmt, ...)>`. */
_Noreturn void cli_bad_value(const struct cli_cmd *c, const char *flag, const char *v,
			     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Flag values. Each returns the parsed value or exits through cli_bad_value. */
uint64_t cli_size(const struct cli_cmd *c, const char *flag, const char *v,
		  uint64_t min, uint64_t max);
uint64_t cli_uint(const struct cli_cmd *c, const char *flag, const char *v,
		  uint64_t min, uint64_t max);
double cli_seconds(const struct cli_cmd *c, const char *flag, const char *v, double max);
/* The index of v in the NULL-terminated list `choices`. */
int cli_choice(const struct cli_cmd *c, const char *flag, const char *v,
	       const char *const *choices);

#endif
