/* pageshim.c - the `pageshim` command: picks a subcommand and runs it.
 *
 *   pageshim run   [flags] -- CMD [ARGS]   run CMD with libpageshim.so preloaded
 *   pageshim bench [flags]                 a read workload over a mapped file
 *   pageshim ab    [flags] -- CMD [ARGS]   CMD under the kernel's mmap and under
 *                                          pageshim, in equal memory cgroups
 *   pageshim report FILE [--svg DIR]       a trace or stats file as a summary
 *                                          and pictures
 *
 * Each subcommand lives in its own file (run.c, bench.c, ab.c, report_cmd.c,
 * ...) and is listed in `cmds` below; cli.h holds what they share. */
#include "cli.h"

#include <string.h>

static const struct cli_cmd *const cmds[] = { &run_cmd, &bench_cmd, &ab_cmd, &stat_cmd, &top_cmd,
					      &report_cmd };
#define NCMDS (sizeof cmds / sizeof cmds[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: pageshim COMMAND [FLAGS]    (pageshim --help, pageshim --version)\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %s\n", cmds[i]->synopsis);
}

/* Everything: each subcommand with every flag (run's help lists every
 * variable, as the flags set them). */
static void help(FILE *f)
{
	fprintf(f, "pageshim %s - serve a program's file mappings from a bounded cache\n\n",
		PAGESHIM_VERSION);
	usage(f);
	for (size_t i = 0; i < NCMDS; i++) {
		fprintf(f, "\npageshim %s: %s\n", cmds[i]->name, cmds[i]->summary);
		cmds[i]->help(f);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("pageshim %s\n", PAGESHIM_VERSION);
		return 0;
	}
	for (size_t i = 0; i < NCMDS; i++)
		if (!strcmp(argv[1], cmds[i]->name))
			return cmds[i]->main(argc - 1, argv + 1);
	fprintf(stderr, "pageshim: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
