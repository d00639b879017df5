/* cli.c - flag reading and failing for the subcommands (see cli.h). */
#include "cli.h"
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void vsay(const struct cli_cmd *c, const char *fmt, va_list ap)
{
	fprintf(stderr, "pageshim %s: ", c->name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_die(const struct cli_cmd *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(c, fmt, ap);
	va_end(ap);
	exit(code);
}

void cli_usage_error(const struct cli_cmd *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(c, fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: %s\n(pageshim %s --help for every flag)\n", c->synopsis, c->name);
	exit(EXIT_USAGE);
}

int cli_getopt(const struct cli_cmd *c, int argc, char **argv, const struct option *opts)
{
	opterr = 0;     /* our messages, not getopt's */
	int ch = getopt_long(argc, argv, "+:", opts, NULL);
	switch (ch) {
	case '?':
		cli_usage_error(c, "unknown option \"%s\"", argv[optind - 1]);
	case ':':
		cli_usage_error(c, "option \"%s\" needs a value", argv[optind - 1]);
	case 'h':
		c->help(stdout);
		exit(0);
	}
	return ch;
}

void cli_bad_value(const struct cli_cmd *c, const char *flag, const char *v,
		   const char *fmt, ...)
{
	char expected[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(expected, sizeof expected, fmt, ap);
	va_end(ap);
	cli_die(c, EXIT_USAGE, "--%s \"%s\": expected %s", flag, v, expected);
}

/* Shortest exact spelling of a byte count: "64M", "4K", "12". */
static const char *size_text(uint64_t n, char *buf, size_t len)
{
	static const char units[] = "TGMK";
	for (unsigned i = 0; i < 4; i++) {
		uint64_t u = 1ULL << (10 * (4 - i));
		if (n >= u && n % u == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(n / u), units[i]);
			return buf;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)n);
	return buf;
}

uint64_t cli_size(const struct cli_cmd *c, const char *flag, const char *v,
		  uint64_t min, uint64_t max)
{
	uint64_t n;
	if (ps_parse_size(v, 0, &n) || n < min || n > max) {
		char lo[32], hi[32];
		cli_bad_value(c, flag, v, "a size with K/M/G suffix from %s to %s",
			  size_text(min, lo, sizeof lo), size_text(max, hi, sizeof hi));
	}
	return n;
}

uint64_t cli_uint(const struct cli_cmd *c, const char *flag, const char *v,
		  uint64_t min, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || n < min || n > max)
		cli_bad_value(c, flag, v, "an integer from %llu to %llu",
			  (unsigned long long)min, (unsigned long long)max);
	return n;
}

double cli_seconds(const struct cli_cmd *c, const char *flag, const char *v, double max)
{
	char *end;
	errno = 0;
	double s = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(s) || s < 0 || s > max)
		cli_bad_value(c, flag, v, "seconds from 0 to %g", max);
	return s;
}

int cli_choice(const struct cli_cmd *c, const char *flag, const char *v,
	       const char *const *choices)
{
	char list[256] = "";
	for (int i = 0; choices[i]; i++) {
		if (!strcmp(v, choices[i]))
			return i;
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
			 i ? ", " : "", choices[i]);
	}
	cli_bad_value(c, flag, v, "one of %s", list);
}
