/* top.c - `pageshim top`: every process running under pageshim on the
 * machine, refreshed like top(1), from the segments they publish once a
 * second (live.h). ncurses draws; q or Ctrl-C leaves. */
#include <curses.h>
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "live.h"

#define ROWS_MAX 256

/* One process: its segment, and the snapshot before the last. */
struct row {
	long pid;
	char comm[17];
	const struct pageshim_live *l;
	struct pageshim_live now, before;
	int seen;               /* found in this scan */
	double faults_s, read_mb_s, evict_s;
};

static struct row rows[ROWS_MAX];
static unsigned nrows;
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}


static double rate(uint64_t a, uint64_t b, double secs)
{
	return b >= a && secs > 0 ? (double)(b - a) / secs : 0;
}

static struct row *row_of(long pid)
{
	for (unsigned i = 0; i < nrows; i++)
		if (rows[i].pid == pid)
			return &rows[i];
	if (nrows == ROWS_MAX)
		return NULL;
	memset(&rows[nrows], 0, sizeof rows[nrows]);
	rows[nrows].pid = pid;
	return &rows[nrows++];
}

static void read_comm(long pid, char *out, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/comm", pid);
	FILE *f = fopen(path, "r");
	out[0] = 0;
	if (f) {
		if (fgets(out, (int)len, f))
			out[strcspn(out, "\n")] = 0;
		fclose(f);
	}
}

/* Look at every segment: new processes join, gone ones leave (their stale
 * segments removed), the others get a new snapshot and rates. */
static void scan(void)
{
	for (unsigned i = 0; i < nrows; i++)
		rows[i].seen = 0;
	DIR *d = opendir(PAGESHIM_LIVE_DIR);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		unsigned uid;
		long pid;
		char path[96];
		if (sscanf(e->d_name, "pageshim-%u-%ld", &uid, &pid) != 2)
			continue;
		live_path(path, sizeof path, uid, pid);
		if (live_gone(pid, path))
			continue;
		struct row *r = row_of(pid);
		if (!r)
			continue;
		if (!r->l && (live_open(path, pid, &r->l) || !(read_comm(pid, r->comm, sizeof r->comm), 1))) {
			r->l = NULL;
			continue;
		}
		struct pageshim_live s;
		if (live_snapshot(r->l, &s))
			continue;
		r->seen = 1;
		if (s.updated_ns != r->now.updated_ns) {
			r->before = r->now.updated_ns ? r->now : s;
			r->now = s;
		}
		double secs = (double)(r->now.updated_ns - r->before.updated_ns) / 1e9;
		const struct pageshim_stats *a = &r->before.stats, *b = &r->now.stats;
		r->faults_s = rate(a->faults, b->faults, secs);
		r->read_mb_s = rate(a->bytes_read, b->bytes_read, secs) / 1e6;
		r->evict_s = rate(a->evicted_pages, b->evicted_pages, secs);
	}
	if (d)
		closedir(d);
	for (unsigned i = 0; i < nrows;) {
		if (rows[i].seen) {
			i++;
			continue;
		}
		if (rows[i].l)
			live_close(rows[i].l);
		rows[i] = rows[--nrows];
	}
}

static char sort_key = 'f';
static unsigned selected;       /* row under the cursor */
static long files_of;           /* the process whose files are shown, or 0 */

static int by_key(const void *x, const void *y)
{
	const struct row *a = x, *b = y;
	double ka, kb;
	switch (sort_key) {
	case 'r': ka = (double)a->now.stats.resident_bytes; kb = (double)b->now.stats.resident_bytes; break;
	case 'm': ka = a->read_mb_s; kb = b->read_mb_s; break;
	case 'p': ka = (double)-a->pid; kb = (double)-b->pid; break;
	default: ka = a->faults_s; kb = b->faults_s; break;
	}
	return ka < kb ? 1 : ka > kb ? -1 : (a->pid > b->pid) - (a->pid < b->pid);
}

/* The files of process files_of, most faults first (as published). */
static void draw_files(const struct row *r)
{
	mvprintw(0, 0, "pageshim top - files of process %ld (%s), most faults first  (Esc or Backspace: back, q: quit)",
		 r->pid, r->comm);
	attron(A_REVERSE);
	mvprintw(2, 0, "%10s %10s %9s %10s %6s %8s %8s  %s", "FAULTS", "FILLED", "MB READ", "EVICTED", "ERR",
		 "P99 US", "MAX US", "PATH");
	attroff(A_REVERSE);
	for (unsigned i = 0; i < r->now.nfiles && (int)i + 3 < LINES; i++) {
		const struct pageshim_live_file *f = &r->now.files[i];
		mvprintw((int)i + 3, 0, "%10llu %10llu %9.1f %10llu %6llu %8llu %8llu  %s",
			 (unsigned long long)f->counts.faults, (unsigned long long)f->counts.pages_filled,
			 (double)f->counts.bytes_read / 1e6, (unsigned long long)f->counts.evicted_pages,
			 (unsigned long long)(f->counts.io_errors + f->counts.checksum_mismatches),
			 (unsigned long long)f->fault_latency.p99_us, (unsigned long long)f->fault_latency.max_us,
			 f->path);
	}
	refresh();
}

static void draw(void)
{
	erase();
	for (unsigned i = 0; files_of && i < nrows; i++) {
		if (rows[i].pid == files_of) {
			draw_files(&rows[i]);
			return;
		}
	}
	files_of = 0;   /* gone: back to the processes */
	time_t t = time(NULL);
	char when[16];
	strftime(when, sizeof when, "%H:%M:%S", localtime(&t));
	mvprintw(0, 0, "pageshim top - %s - %u process%s under pageshim - sort: %s  (f r m p: sort, "
		 "arrows and Enter: a process's files, q: quit)",
		 when, nrows, nrows == 1 ? "" : "es",
		 sort_key == 'r' ? "resident" : sort_key == 'm' ? "MB/s read" : sort_key == 'p' ? "pid" : "faults/s");
	attron(A_REVERSE);
	mvprintw(2, 0, "%7s %-15s %8s %8s %8s %9s %8s %9s %8s %8s %6s", "PID", "COMMAND", "BUDGET", "RES",
		 "DIRTY", "FAULTS/s", "MB/s", "EVICT/s", "REFAULT", "P99 us", "ERR");
	attroff(A_REVERSE);
	qsort(rows, nrows, sizeof rows[0], by_key);
	if (selected >= nrows)
		selected = nrows ? nrows - 1 : 0;
	for (unsigned i = 0; i < nrows && (int)i + 3 < LINES; i++) {
		const struct row *r = &rows[i];
		if (i == selected)
			attron(A_BOLD);
		const struct pageshim_stats *s = &r->now.stats;
		mvprintw((int)i + 3, 0, "%7ld %-15.15s %7.1fM %7.1fM %7.1fM %9.1f %8.2f %9.1f %7.1f%% %8llu %6llu", r->pid,
			 r->comm, (double)s->budget_bytes / (1 << 20), (double)s->resident_bytes / (1 << 20),
			 (double)s->dirty_bytes / (1 << 20), r->faults_s, r->read_mb_s, r->evict_s,
			 s->pages_filled ? 100.0 * (double)s->ghost_hits / (double)s->pages_filled : 0.0,
			 (unsigned long long)s->fault_latency.p99_us,
			 (unsigned long long)(s->io_errors + s->checksum_mismatches + s->sigbus_raised));
		attroff(A_BOLD);
	}
	if (!nrows)
		mvprintw(3, 0, "(no process is running under pageshim with a managed mapping)");
	refresh();
}

static int top_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	double delay = 1;
	int c;
	optind = 1;
	while ((c = cli_getopt(&top_cmd, argc, argv, opts)) != -1) {
		char *end;
		delay = strtod(optarg, &end);
		if (end == optarg || *end || !(delay >= 0.1 && delay <= 60))
			cli_bad_value(&top_cmd, "--delay", optarg, "seconds, from 0.1 to 60");
	}
	if (optind != argc)
		cli_usage_error(&top_cmd, "no operand expected");
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		cli_die(&top_cmd, EXIT_USAGE, "needs a terminal (for one process, use pageshim stat PID)");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!initscr())
		cli_die(&top_cmd, EXIT_RUN_FAILED, "cannot set up the terminal (TERM=%s)", getenv("TERM"));
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	timeout((int)(delay * 1000));
	while (!interrupted) {
		scan();
		draw();
		int k = getch();
		if (k == 'q' || k == 'Q')
			break;
		if (k == 'f' || k == 'r' || k == 'm' || k == 'p')
			sort_key = (char)k;
		else if (k == KEY_UP && selected > 0)
			selected--;
		else if (k == KEY_DOWN)
			selected++;
		else if ((k == '\n' || k == KEY_ENTER) && selected < nrows)
			files_of = rows[selected].pid;
		else if (k == 27 || k == KEY_BACKSPACE || k == 127)
			files_of = 0;
	}
	endwin();
	return 0;
}

static void top_help(FILE *f)
{
	fprintf(f, "usage: %s\n", top_cmd.synopsis);
	fprintf(f, "Every process running under pageshim, from the counters each publishes once a\n"
		   "second in " PAGESHIM_LIVE_DIR ", refreshed every --delay seconds (1): budget,\n"
		   "resident and written megabytes, faults, MB read and pages evicted per second,\n"
		   "re-faults after eviction (of pages filled), fault latency p99, and errors\n"
		   "(I/O errors, checksum mismatches, SIGBUS). Keys: f r m p sort by faults/s,\n"
		   "resident, MB/s or pid; up and down choose a process, Enter shows its files\n"
		   "(most faults first), Esc or Backspace goes back; q or Ctrl-C quits. Segments\n"
		   "of processes that are gone are removed.\n");
}

const struct cli_cmd top_cmd = {
	.name = "top",
	.synopsis = "pageshim top [--delay S]",
	.summary = "every process running under pageshim, refreshed like top",
	.main = top_main,
	.help = top_help,
};
