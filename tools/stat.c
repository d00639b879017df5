/* stat.c - `pageshim stat PID`: one snapshot of a running process's
 * counters, from the segment the library publishes once a second
 * (struct pageshim_live in pageshim.h), with rates over an interval. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "live.h"
#include "report.h"


static void stat_help(FILE *f)
{
	fprintf(f, "usage: %s\n", stat_cmd.synopsis);
	fprintf(f, "Reads the counters a process running under pageshim publishes once a second in\n"
		   PAGESHIM_LIVE_DIR "/pageshim-UID-PID, twice, --interval apart (default 1 s),\n"
		   "and prints the budget, what is resident, rates over the interval (faults,\n"
		   "pages filled, MB read, evictions, pages written back), the fault and I/O\n"
		   "latency percentiles, and the error counters. A segment left by a process that\n"
		   "is gone is removed. Exit status: 0, 1 (no such process under pageshim), 2\n"
		   "(usage).\n");
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++)
		printf(*s == '"' || *s == '\\' ? "\\%c" : (unsigned char)*s < 0x20 ? "\\u%04x" : "%c", *s);
	putchar('"');
}

static void json_latency(const char *name, const struct pageshim_latency *l)
{
	printf(",\"%s\":{\"count\":%llu,\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu}", name,
	       (unsigned long long)l->count, (unsigned long long)l->p50_us, (unsigned long long)l->p99_us,
	       (unsigned long long)l->p999_us, (unsigned long long)l->max_us);
}

static double per_s(uint64_t a, uint64_t b, double secs)
{
	return b >= a && secs > 0 ? (double)(b - a) / secs : 0;
}

static int stat_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	int json = 0, c;
	double interval = 1;
	optind = 1;
	while ((c = cli_getopt(&stat_cmd, argc, argv, opts)) != -1) {
		char *end;
		if (c == 'j') {
			json = 1;
		} else if (c == 'i') {
			interval = strtod(optarg, &end);
			if (end == optarg || *end || !(interval > 0 && interval <= 3600))
				cli_bad_value(&stat_cmd, "--interval", optarg, "seconds, more than 0, at most 3600");
		}
	}
	if (optind != argc - 1)
		cli_usage_error(&stat_cmd, "expected one PID");
	char *end;
	long pid = strtol(argv[optind], &end, 10);
	if (end == argv[optind] || *end || pid <= 0)
		cli_usage_error(&stat_cmd, "PID \"%s\": expected a process id", argv[optind]);

	char path[96];
	live_path(path, sizeof path, (unsigned)getuid(), pid);
	int had = access(path, F_OK) == 0;
	if (live_gone(pid, path))
		cli_die(&stat_cmd, EXIT_RUN_FAILED, had ? "process %ld is gone; removed its stale %s"
						       : "no process %ld%s", pid, had ? path : "");
	const struct pageshim_live *l;
	int err = live_open(path, pid, &l);
	if (err == -EPROTO)
		cli_die(&stat_cmd, EXIT_RUN_FAILED, "%s is not a pageshim stats segment of this version", path);
	if (err)
		cli_die(&stat_cmd, EXIT_RUN_FAILED, "process %ld publishes no pageshim stats (%s: %s): not under "
			"pageshim, or nothing mapped yet", pid, path, strerror(-err));
	struct pageshim_live a, b;
	if (live_snapshot(l, &a))
		cli_die(&stat_cmd, EXIT_RUN_FAILED, "%s: no consistent copy", path);
	nanosleep(&(struct timespec){ (time_t)interval, (long)((interval - (time_t)interval) * 1e9) }, NULL);
	if (live_snapshot(l, &b))
		cli_die(&stat_cmd, EXIT_RUN_FAILED, "%s: no consistent copy", path);
	/* Rates over the library's own update times (it publishes once a
	 * second); none when it did not publish in between. */
	double secs = (double)(b.updated_ns - a.updated_ns) / 1e9;
	const struct pageshim_stats *s = &b.stats, *o = &a.stats;

	struct report r = { .n = 0 };
	report_count(&r, "pid", "process", "", (uint64_t)pid);
	report_count(&r, "active", "serving mappings", "", (uint64_t)s->active);
	report_real(&r, "budget_mib", "budget", "MiB", (double)s->budget_bytes / (1 << 20), 1);
	report_real(&r, "resident_mib", "resident", "MiB", (double)s->resident_bytes / (1 << 20), 1);
	report_real(&r, "dirty_mib", "written, not yet written back", "MiB", (double)s->dirty_bytes / (1 << 20), 1);
	report_count(&r, "mappings_live", "managed mappings", "", s->mappings_live);
	report_real(&r, "interval_s", "rates over", "s", secs, 2);
	report_real(&r, "faults_per_s", "faults", "/s", per_s(o->faults, s->faults, secs), 1);
	report_real(&r, "pages_filled_per_s", "pages filled", "/s", per_s(o->pages_filled, s->pages_filled, secs), 1);
	report_real(&r, "read_mb_per_s", "read", "MB/s", per_s(o->bytes_read, s->bytes_read, secs) / 1e6, 2);
	report_real(&r, "evictions_per_s", "pages evicted", "/s", per_s(o->evicted_pages, s->evicted_pages, secs), 1);
	report_real(&r, "written_back_per_s", "pages written back", "/s",
		    per_s(o->pages_written_back, s->pages_written_back, secs), 1);
	/* Pages faulted again soon after their eviction, out of all filled: a
	 * budget too small for the working set shows here. */
	report_real(&r, "refault_ratio", "re-faults after eviction", "of fills",
		    s->pages_filled ? (double)s->ghost_hits / (double)s->pages_filled : 0, 3);
	report_count(&r, "faults", "faults, in all", "", s->faults);
	report_count(&r, "fault_p50_us", "fault latency p50", "us", s->fault_latency.p50_us);
	report_count(&r, "fault_p99_us", "fault latency p99", "us", s->fault_latency.p99_us);
	report_count(&r, "fault_p999_us", "fault latency p99.9", "us", s->fault_latency.p999_us);
	report_count(&r, "fault_max_us", "fault latency max", "us", s->fault_latency.max_us);
	report_count(&r, "io_p99_us", "read latency p99", "us", s->io_latency.p99_us);
	report_count(&r, "checksum_mismatches", "checksum mismatches", "", s->checksum_mismatches);
	report_count(&r, "io_errors", "I/O errors", "", s->io_errors);
	report_count(&r, "sigbus_raised", "SIGBUS raised", "", s->sigbus_raised);
	report_count(&r, "external_modifications", "changes by other processes", "", s->external_modifications);
	if (json) {
		/* the report's object, with the files added before its end */
		char *text;
		size_t len;
		FILE *m = open_memstream(&text, &len);
		report_json(m, &r);
		fclose(m);
		printf("%.*s,\"files\":[", (int)(len - 1), text);
		free(text);
		for (unsigned i = 0; i < b.nfiles; i++) {
			const struct pageshim_live_file *f = &b.files[i];
			printf("%s{\"path\":", i ? "," : "");
			json_string(f->path);
			printf(",\"faults\":%llu,\"pages_filled\":%llu,\"bytes_read\":%llu,\"evicted_pages\":%llu,"
			       "\"io_errors\":%llu,\"checksum_mismatches\":%llu",
			       (unsigned long long)f->counts.faults, (unsigned long long)f->counts.pages_filled,
			       (unsigned long long)f->counts.bytes_read, (unsigned long long)f->counts.evicted_pages,
			       (unsigned long long)f->counts.io_errors, (unsigned long long)f->counts.checksum_mismatches);
			json_latency("fault_latency_us", &f->fault_latency);
			json_latency("io_latency_us", &f->io_latency);
			putchar('}');
		}
		printf("],\"stall_sites\":[");
		for (unsigned i = 0; i < b.nsites; i++) {
			const struct pageshim_live_site *t = &b.sites[i];
			printf("%s{\"count\":%llu,\"total_us\":%llu,\"max_us\":%llu,\"offset_min\":%llu,"
			       "\"offset_max\":%llu,\"file\":", i ? "," : "", (unsigned long long)t->count,
			       (unsigned long long)t->total_us, (unsigned long long)t->max_us,
			       (unsigned long long)t->offset_min, (unsigned long long)t->offset_max);
			json_string(t->file);
			printf(",\"stack\":[");
			for (unsigned d = 0; d < PAGESHIM_LIVE_FRAMES && t->stack[d][0]; d++) {
				printf(d ? "," : "");
				json_string(t->stack[d]);
			}
			printf("]}");
		}
		printf("]}\n");
	} else {
		report_table(stdout, &r);
		printf("\n  files, most faults first (fault service time, since the file was mapped):\n"
		       "  %10s %10s %10s %10s %7s %8s %8s %8s  %s\n", "faults", "filled", "MB read",
		       "evicted", "errors", "p50 us", "p99 us", "max us", "path");
		for (unsigned i = 0; i < b.nfiles; i++) {
			const struct pageshim_file_counts *k = &b.files[i].counts;
			const struct pageshim_latency *lat = &b.files[i].fault_latency;
			printf("  %10llu %10llu %10.1f %10llu %7llu %8llu %8llu %8llu  %s\n", (unsigned long long)k->faults,
			       (unsigned long long)k->pages_filled, (double)k->bytes_read / 1e6,
			       (unsigned long long)k->evicted_pages,
			       (unsigned long long)(k->io_errors + k->checksum_mismatches),
			       (unsigned long long)lat->p50_us, (unsigned long long)lat->p99_us,
			       (unsigned long long)lat->max_us, b.files[i].path);
		}
		printf("\n  stall sites, most waiting first:\n  %10s %10s %10s  %s\n", "faults", "total ms",
		       "max ms", "file offsets; stack");
		for (unsigned i = 0; i < b.nsites; i++) {
			const struct pageshim_live_site *t = &b.sites[i];
			printf("  %10llu %10.1f %10.1f  %s %llu-%llu;", (unsigned long long)t->count,
			       (double)t->total_us / 1e3, (double)t->max_us / 1e3, t->file,
			       (unsigned long long)t->offset_min, (unsigned long long)t->offset_max);
			for (unsigned d = 0; d < PAGESHIM_LIVE_FRAMES && t->stack[d][0]; d++)
				printf("%s %s", d ? " <" : "", t->stack[d]);
			putchar('\n');
		}
	}
	return 0;
}

const struct cli_cmd stat_cmd = {
	.name = "stat",
	.synopsis = "pageshim stat [--interval S] [--json] PID",
	.summary = "one snapshot of a process running under pageshim: memory, rates, latencies, errors",
	.main = stat_main,
	.help = stat_help,
};
